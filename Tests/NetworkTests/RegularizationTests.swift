import KerasFile
import ReferenceMath
import XCTest
@testable import Kernels
@testable import Network

/// Weight and activity regularizers, constraints and frozen layers (issue 12).
final class RegularizationTests: XCTestCase {
    private func model(_ conv: LayerTrainingSettings, dense: LayerTrainingSettings = LayerTrainingSettings(),
                       groups: Int = 1, activation: ActivationFunction = .relu) throws -> Network {
        var definition = functionalModel(input: [6, 6, 2], [
            ("conv", .conv2D(Conv2DSpec(filters: 4, kernelSize: (3, 3), activation: activation, groups: groups))),
            ("flatten", .flatten(.channelsLast)),
            ("dense", .dense(DenseSpec(units: 3, activation: .linear))),
        ])
        definition.layers[1].training = conv
        definition.layers[3].training = dense
        let network = try Network(definition: definition)
        try fill(network, seed: 3)
        return network
    }

    func testWeightPenaltyIsL1PlusL2OfEachWeight() throws {
        var settings = LayerTrainingSettings()
        settings.weightRegularizers = ["kernel": Regularizer(l1: 0.03, l2: 0.01), "bias": Regularizer(l2: 0.5)]
        let network = try model(settings)
        let kernel = doubles(network.variables[0].value), bias = doubles(network.variables[1].value)
        let expected = 0.03 * kernel.map(abs).reduce(0, +) + 0.01 * kernel.map { $0 * $0 }.reduce(0, +)
            + 0.5 * bias.map { $0 * $0 }.reduce(0, +)
        XCTAssertEqual(Double(network.regularizationPenalty()), expected, accuracy: 1e-6 * expected)
        XCTAssertTrue(network.hasRegularization)
        XCTAssertFalse(try model(LayerTrainingSettings()).hasRegularization)
    }

    func testWeightPenaltyGradientMatchesFiniteDifferences() throws {
        let r = Regularizer(l1: 0.2, l2: 0.7)
        let x = randomValues(12, seed: 5).map { $0 - 0.5 }
        var gradient = Tensor(repeating: 1, shape: [12])
        r.addGradient(of: Tensor(shape: [12], data: x.map(Float.init)), scale: 1, to: &gradient)
        let fd = finiteDifferences({ Double(r.penalty(Tensor(shape: [12], data: $0.map(Float.init)))) }, at: x, eps: 1e-3)
        XCTAssertLessThan(relativeError(doubles(gradient), fd.map { $0 + 1 }), 1e-3)
        // TensorFlow's gradient of |x| at 0 is 0.
        var atZero = Tensor(zeros: [1])
        Regularizer(l1: 1).addGradient(of: Tensor(zeros: [1]), scale: 1, to: &atZero)
        XCTAssertEqual(atZero.data, [0])
    }

    /// The activity penalty's gradient reaches the layers below it: the network's gradient of
    /// `sum(r * y) + penalty` against finite differences of the whole thing.
    func testActivityRegularizerGradientFlowsThroughBackward() throws {
        var settings = LayerTrainingSettings()
        settings.activityRegularizer = Regularizer(l2: 0.2)
        for perSample in [true, false] {
            // tanh, not relu: finite differences across relu's kinks would blur the check.
            let network = try model(settings, activation: .tanh)
            network.activityPenaltyPerSample = perSample
            let x = Tensor(shape: [2, 6, 6, 2], data: randomValues(144, seed: 9).map(Float.init))
            let y = try network.forward(x, training: true)
            let r = randomValues(y.count, seed: 4)
            try network.backward(Tensor(shape: y.shape, data: r.map(Float.init)))
            let kernel = network.variables[0]
            let analytic = doubles(kernel.gradient)
            let k0 = doubles(kernel.value)
            let fd = try finiteDifferences({ k in
                kernel.value = Tensor(shape: kernel.shape, data: k.map(Float.init))
                let y = try! network.forward(x, training: true)
                return dot(r, doubles(y)) + Double(network.regularizationPenalty())
            }, at: k0, eps: 1e-2)
            XCTAssertLessThan(relativeError(analytic, fd), 2e-3, "per sample \(perSample)")
            _ = try network.forward(x, training: true)
        }
    }

    func testConstraintsProjectAsKerasDoes() {
        // A (2, 2) kernel: columns are output units, MaxNorm over axis 0 (Keras's default).
        let eps: Float = 1e-7
        var w = Tensor(shape: [2, 2], data: [3, 0.1, 4, 0.2])
        WeightConstraint.maxNorm(maxValue: 2, axes: [0]).apply(to: &w)
        let five: Float = 5, scale: Float = 2 / (eps + five)
        XCTAssertEqual(w.data[0], 3 * scale, accuracy: 1e-6)
        XCTAssertEqual(w.data[2], 4 * scale, accuracy: 1e-6)
        let smallNorm = Float(0.05).squareRoot()
        let kept: Float = smallNorm / (eps + smallNorm)
        XCTAssertEqual(w.data[1], 0.1 * kept, accuracy: 1e-7)

        var u = Tensor(shape: [2, 2], data: [3, 1, 4, 0])
        WeightConstraint.unitNorm(axes: [0]).apply(to: &u)
        let unit: [Float] = [3 / (eps + five), 1 / (eps + 1), 4 / (eps + five), 0]
        XCTAssertEqual(u.data, unit)

        var m = Tensor(shape: [2, 2], data: [3, 0.1, 4, 0])
        WeightConstraint.minMaxNorm(minValue: 0.5, maxValue: 1, rate: 0.5, axes: [0]).apply(to: &m)
        let big: Float = (0.5 * 1 + 0.5 * five) / (eps + five)
        let tiny: Float = (0.5 * 0.5 + 0.5 * 0.1) / (eps + 0.1)
        XCTAssertEqual(m.data[0], 3 * big, accuracy: 1e-6)
        XCTAssertEqual(m.data[1], 0.1 * tiny, accuracy: 1e-6)

        var n = Tensor(shape: [3], data: [-1, 0, 2])
        WeightConstraint.nonNeg.apply(to: &n)
        XCTAssertEqual(n.data, [0, 0, 2])

        // Norms over several axes: a conv kernel (kh, kw, in, out) per output channel.
        let k = Tensor(shape: [2, 1, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8])
        let norms = WeightConstraint.norms(k, axes: [0, 1, 2])
        XCTAssertEqual(norms.values, [Float(1 + 9 + 25 + 49).squareRoot(), Float(4 + 16 + 36 + 64).squareRoot()])
        XCTAssertEqual(norms.group, [0, 1, 0, 1, 0, 1, 0, 1])
    }

    func testNegativeConstraintAxesCountFromTheEnd() throws {
        var settings = LayerTrainingSettings()
        settings.constraints = ["kernel": .unitNorm(axes: [-1])]
        XCTAssertEqual(try model(LayerTrainingSettings(), dense: settings).variables[2].constraint, .unitNorm(axes: [1]))
        settings.constraints = ["kernel": .unitNorm(axes: [5])]
        XCTAssertThrowsError(try model(LayerTrainingSettings(), dense: settings))
    }

    func testFrozenLayersAreNotTrainableVariables() throws {
        var frozen = LayerTrainingSettings()
        frozen.trainable = false
        let network = try model(frozen)
        XCTAssertEqual(network.variables.count, 4)
        XCTAssertEqual(network.trainableVariables.map(\.layerName), ["dense", "dense"])
    }

    func testGroupedConvolutionLayerHasKerasKernelShape() throws {
        let network = try model(LayerTrainingSettings(), groups: 2)
        XCTAssertEqual(network.variables[0].shape, [3, 3, 1, 4])
        XCTAssertThrowsError(try model(LayerTrainingSettings(), groups: 3)) { error in
            XCTAssertTrue("\(error)".contains("groups = 3 must divide the input channels (2) and the filters (4)"), "\(error)")
        }
    }
}
