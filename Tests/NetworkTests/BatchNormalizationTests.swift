import ReferenceMath
import XCTest
@testable import KerasFile
@testable import Kernels
@testable import Network

/// BatchNormalization against a Double reference and finite differences (both data formats,
/// batch and moving statistics), and Keras 2.2's zero-debiased moving averages, which no
/// Python 3.11 can run (tools/layer_reference.py checks tf-keras and Keras 3).
final class BatchNormalizationTests: XCTestCase {
    /// y = gamma (x - mean) / sqrt(var + eps) + beta over [outer, C, inner], batch statistics.
    func reference(_ x: [Double], outer: Int, c: Int, inner: Int, gamma: [Double], beta: [Double], eps: Double) -> [Double] {
        var y = x
        let n = Double(outer * inner)
        for ch in 0..<c {
            var idx: [Int] = []
            for o in 0..<outer { for i in 0..<inner { idx.append((o * c + ch) * inner + i) } }
            let m = idx.map { x[$0] }.reduce(0, +) / n
            let v = idx.map { (x[$0] - m) * (x[$0] - m) }.reduce(0, +) / n
            for k in idx { y[k] = gamma[ch] * (x[k] - m) / (v + eps).squareRoot() + beta[ch] }
        }
        return y
    }

    func testForwardAndGradientsBothDataFormats() throws {
        for (axis, shape) in [(-1, [3, 4, 5]), (1, [5, 3, 4]), (-1, [6])] {
            for generation in [KerasGeneration.tfKeras, .keras3, .keras2] {
                let spec = BatchNormalizationSpec(axis: axis, momentum: 0.9, epsilon: 1e-3, generation: generation)
                let layer = try BatchNormalizationLayer(name: "bn", spec: spec, inputShape: shape, trainable: true, store: ParameterStore())
                let c = axis == 1 ? shape[0] : shape.last!
                let inner = axis == 1 ? shape.dropFirst().reduce(1, *) : 1
                let perSample = shape.reduce(1, *)
                checkLayer(layer, inputShape: shape, batch: 3, tolerance: 5e-4) { x, p in
                    self.reference(x, outer: 3 * perSample / (c * inner), c: c, inner: inner, gamma: p[0], beta: p[1], eps: 1e-3)
                }
            }
        }
    }

    func testKeras2ZeroDebiasedMovingStatisticsAndTheirState() throws {
        let spec = BatchNormalizationSpec(axis: -1, momentum: 0.99, epsilon: 1e-3, generation: .keras2)
        let def = functionalModel(input: [3], [("bn", .batchNormalization(spec))])
        let network = try Network(definition: def, initializerSeed: 1)
        let x = Tensor(shape: [4, 3], data: randomValues(12, seed: 3).map { Float($0) })
        try network.forward(x, training: true)
        // Step 1: biased = decay * value, debiased by 1 - momentum: the batch's own statistics,
        // whatever the moving values were; the variance with Keras 2.2's N / (N - (1 + eps)).
        let mm = network.variables[2].value.data, mv = network.variables[3].value.data
        for ch in 0..<3 {
            let column = (0..<4).map { Double(x.data[$0 * 3 + ch]) }
            let m = column.reduce(0, +) / 4
            let v = column.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 4 * 4 / (4 - 1.001)
            XCTAssertEqual(Double(mm[ch]), m, accuracy: 1e-6)
            XCTAssertEqual(Double(mv[ch]), v, accuracy: 1e-5)
        }
        // The hidden averages travel in a checkpoint's layer state: a second network given the
        // weights and the state continues bit for bit.
        let state = network.layerState
        XCTAssertEqual(state["bn"]?.count, 7)
        let resumed = try Network(definition: def, weights: network.weightsByLayer)
        try resumed.setLayerState(state)
        let y = Tensor(shape: [4, 3], data: randomValues(12, seed: 4).map { Float($0) })
        try network.forward(y, training: true)
        try resumed.forward(y, training: true)
        XCTAssertEqual(network.variables.map(\.value.data), resumed.variables.map(\.value.data))
        XCTAssertEqual(network.layerState, resumed.layerState)
        // A frozen Keras 2.2 layer normalises with the batch but updates nothing.
        var frozenDef = def
        frozenDef.layers[1].training.trainable = false
        let frozen = try Network(definition: frozenDef, weights: network.weightsByLayer)
        let before = frozen.variables.map(\.value.data)
        let out = try frozen.forward(y, training: true).data
        XCTAssertEqual(frozen.variables.map(\.value.data), before)
        XCTAssertEqual(out, try network.forward(y, training: true).data, "batch statistics, as a trainable layer's")
        XCTAssertTrue(frozen.trainableVariables.isEmpty)
    }
}
