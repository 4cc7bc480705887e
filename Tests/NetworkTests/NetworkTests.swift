import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class NetworkTests: XCTestCase {
    /// A small channels_first CNN touching every layer type.
    func smallModel() -> ModelDefinition {
        functionalModel(input: [1, 8, 8], [
            ("conv1", .conv2D(Conv2DSpec(filters: 3, kernelSize: (3, 3), padding: .same, dataFormat: .channelsFirst, activation: .relu))),
            ("pool", .maxPooling2D(Pooling2DSpec(poolSize: (2, 2), strides: (2, 2), padding: .valid, dataFormat: .channelsFirst))),
            ("conv2", .conv2D(Conv2DSpec(filters: 4, kernelSize: (3, 3), strides: (2, 2), padding: .same, dataFormat: .channelsFirst, activation: .tanh))),
            ("flat", .flatten(.channelsFirst)),
            ("dense1", .dense(DenseSpec(units: 6, activation: .relu))),
            ("drop", .dropout(rate: 0.5, seed: nil)),
            ("dense2", .dense(DenseSpec(units: 3, activation: .linear))),
            ("softmax", .activation(.softmax)),
        ])
    }

    /// The same model in Double: returns (output, logits).
    func reference(_ x: [Double], _ p: [[Double]], batch: Int, mask: [Double]) -> ([Double], [Double]) {
        let c1 = refConv(x, batch: batch, img: RefImage(channelsFirst: true, c: 1, h: 8, w: 8), kernel: p[0], bias: p[1], kh: 3, kw: 3, filters: 3, strides: (1, 1), same: true)
        let a1 = refActivate(c1.y, .relu, rowLength: 1)
        let pl = refMaxPool(a1, batch: batch, img: c1.out, ph: 2, pw: 2, strides: (2, 2), same: false)
        let c2 = refConv(pl.y, batch: batch, img: pl.out, kernel: p[2], bias: p[3], kh: 3, kw: 3, filters: 4, strides: (2, 2), same: true)
        let a2 = refActivate(c2.y, .tanh, rowLength: 1)
        var flat = [Double](repeating: 0, count: a2.count)
        let S = c2.out.h * c2.out.w
        for b in 0..<batch { for c in 0..<4 { for s in 0..<S { flat[b * 4 * S + s * 4 + c] = a2[b * 4 * S + c * S + s] } } }
        let d1 = refActivate(refDense(flat, rows: batch, nIn: 4 * S, nOut: 6, kernel: p[4], bias: p[5]), .relu, rowLength: 1)
        let dr = zip(d1, mask).map { $0 * $1 }
        let logits = refDense(dr, rows: batch, nIn: 6, nOut: 3, kernel: p[6], bias: p[7])
        return (refActivate(logits, .softmax, rowLength: 3), logits)
    }

    func testWholeNetworkGradientsAgainstFiniteDifferences() throws {
        let net = try Network(definition: smallModel(), dropoutSeed: 5)
        XCTAssertEqual(net.outputShape, [3])
        XCTAssertEqual(net.parameterNames.map { "\($0.layer)/\($0.weight)" },
                       ["conv1/kernel", "conv1/bias", "conv2/kernel", "conv2/bias", "dense1/kernel", "dense1/bias", "dense2/kernel", "dense2/bias"])
        try fill(net, seed: 3)
        let batch = 3
        let x = randomValues(batch * 64, seed: 9)
        let out = try net.forward(Tensor(shape: [batch, 1, 8, 8], data: x.map(Float.init)), training: true)
        let drop = net.layerList.first { $0.name == "drop" } as! DropoutLayer
        let mask = try XCTUnwrap(drop.lastMask).data.map(Double.init)
        XCTAssertTrue(mask.contains(0), "\(mask)")
        let params = net.parameters.map(doubles)
        let (ref, refLogits) = reference(x, params, batch: batch, mask: mask)
        XCTAssertLessThan(relativeError(doubles(out), ref), 1e-5)
        XCTAssertEqual(net.outputActivation, .softmax)
        XCTAssertLessThan(relativeError(doubles(try XCTUnwrap(net.outputLogits)), refLogits), 1e-5)

        // Gradient w.r.t. the output.
        let r = randomValues(ref.count, seed: 4)
        try net.backward(Tensor(shape: out.shape, data: r.map(Float.init)))
        for (i, g) in net.gradients.enumerated() {
            let fd = finiteDifferences({ var q = params; q[i] = $0; return dot(r, self.reference(x, q, batch: batch, mask: mask).0) }, at: params[i])
            XCTAssertLessThan(relativeError(doubles(g), fd), 5e-4, "\(net.parameterNames[i])")
        }
        // Gradient w.r.t. the logits: the softmax's backward is skipped.
        try net.backward(Tensor(shape: out.shape, data: r.map(Float.init)), withRespectTo: .logits)
        for (i, g) in net.gradients.enumerated() {
            let fd = finiteDifferences({ var q = params; q[i] = $0; return dot(r, self.reference(x, q, batch: batch, mask: mask).1) }, at: params[i])
            XCTAssertLessThan(relativeError(doubles(g), fd), 5e-4, "logits \(net.parameterNames[i])")
        }
        // Accumulation adds.
        let once = net.gradients
        try net.backward(Tensor(shape: out.shape, data: r.map(Float.init)), withRespectTo: .logits, accumulate: true)
        XCTAssertEqual(net.gradients[7].data, once[7].data.map { $0 * 2 })
    }

    func testInferenceIsDeterministicAndDropoutFree() throws {
        let net = try Network(definition: smallModel())
        try fill(net, seed: 1)
        let x = Tensor(shape: [2, 1, 8, 8], data: randomValues(128, seed: 2).map(Float.init))
        let a = try net.forward(x, training: false)
        let b = try net.forward(x, training: false)
        XCTAssertEqual(a, b)
        for row in 0..<2 { XCTAssertEqual(a.data[(row * 3)..<(row * 3 + 3)].reduce(0, +), 1, accuracy: 1e-5) }
    }

    func testFusedSigmoidExposesDenseLogits() throws {
        let def = functionalModel(input: [4], [("out", .dense(DenseSpec(units: 2, activation: .sigmoid)))])
        let net = try Network(definition: def, initializerSeed: 3)
        let y = try net.forward(Tensor(shape: [1, 4], data: [1, 2, 3, 4]), training: false)
        XCTAssertEqual(net.outputActivation, .sigmoid)
        let z = try XCTUnwrap(net.outputLogits)
        for i in 0..<2 { XCTAssertEqual(y.data[i], 1 / (1 + exp(-z.data[i])), accuracy: 1e-6) }
        let linear = try Network(definition: functionalModel(input: [4], [("out", .dense(DenseSpec(units: 2)))]), initializerSeed: 3)
        _ = try linear.forward(Tensor(shape: [1, 4], data: [1, 2, 3, 4]), training: false)
        XCTAssertNil(linear.outputActivation)
        XCTAssertNil(linear.outputLogits)
        XCTAssertThrowsError(try linear.backward(Tensor(zeros: [1, 2]), withRespectTo: .logits))
    }

    func testSeedModelShapesAndParameterCounts() throws {
        let def = functionalModel(input: [1, 32, 32], [
            ("conv1", .conv2D(Conv2DSpec(filters: 64, kernelSize: (16, 16), dataFormat: .channelsFirst, activation: .relu))),
            ("conv2", .conv2D(Conv2DSpec(filters: 128, kernelSize: (16, 16), dataFormat: .channelsFirst, activation: .relu))),
            ("reshape", .reshape(targetShape: [-1])),
            ("dense", .dense(DenseSpec(units: 2, activation: .softmax))),
        ])
        let table = try Network.layerTable(for: def)
        XCTAssertEqual(table.map(\.outputShape), [[1, 32, 32], [64, 17, 17], [128, 2, 2], [512], [2]])
        XCTAssertEqual(table.map(\.parameterCount), [0, 16 * 16 * 64 + 64, 16 * 16 * 64 * 128 + 128, 0, 512 * 2 + 2])
        XCTAssertEqual(table[1].weights.map(\.shape), [[16, 16, 1, 64], [64]])
        XCTAssertEqual(table[2].inbound, ["conv1"])
    }

    func testKeras2SequentialWithoutInputLayer() throws {
        let first = LayerSpec(name: "dense_1", className: "Dense", kind: .dense(DenseSpec(units: 3, activation: .relu)), inbound: [],
                              config: .object([("batch_input_shape", .array([.null, .int(5)]))]))
        let second = LayerSpec(name: "dense_2", className: "Dense", kind: .dense(DenseSpec(units: 1, activation: .sigmoid)), inbound: [], config: .object([]))
        let def = ModelDefinition(className: "Sequential", name: "seq", layers: [first, second], inputs: [], outputs: [], config: .object([]))
        let net = try Network(definition: def, initializerSeed: 1)
        XCTAssertEqual(net.inputShape, [5])
        XCTAssertEqual(net.outputShape, [1])
        let x = Tensor(shape: [2, 5], data: randomValues(10, seed: 1).map(Float.init))
        let y = try net.forward(x, training: true)
        XCTAssertEqual(y.shape, [2, 1])
        try net.backward(Tensor(repeating: 1, shape: [2, 1]))
        XCTAssertTrue(net.gradients[0].data.contains { $0 != 0 } || net.gradients[2].data.contains { $0 != 0 })
    }

    func testWeightValidationNamesLayerWeightAndShapes() throws {
        let def = functionalModel(input: [4], [("dense", .dense(DenseSpec(units: 2)))])
        let net = try Network(definition: def)
        XCTAssertThrowsError(try net.loadWeights(["dense": [Tensor(zeros: [2, 4]), Tensor(zeros: [2])]])) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("dense") && m.contains("kernel") && m.contains("(2, 4)") && m.contains("(4, 2)"), m)
        }
        XCTAssertThrowsError(try net.loadWeights(["dense": [Tensor(zeros: [4, 2])]])) { XCTAssertTrue("\($0)".contains("dense")) }
        XCTAssertThrowsError(try net.loadWeights([:]))
        XCTAssertThrowsError(try net.loadWeights(["dense": [Tensor(zeros: [4, 2]), Tensor(zeros: [2])], "ghost": [Tensor(zeros: [1])]]))
        try net.loadWeights(["dense": [Tensor(repeating: 1, shape: [4, 2]), Tensor(repeating: 0.5, shape: [2])]])
        let y = try net.forward(Tensor(shape: [1, 4], data: [1, 2, 3, 4]), training: false)
        XCTAssertEqual(y.data, [10.5, 10.5])
        XCTAssertThrowsError(try net.forward(Tensor(zeros: [1, 5]), training: false))
    }

    /// Several outputs are computed (GraphTests has their gradients); the input itself may be one.
    func testTheInputMayAlsoBeAnOutputButALayerTakesItsOwnNumberOfInputs() throws {
        var def = functionalModel(input: [4], [("d", .dense(DenseSpec(units: 2)))])
        def.outputs.append(TensorRef(layer: "input"))
        let net = try Network(definition: def)
        XCTAssertEqual(net.outputShapes, [[2], [4]])
        let x = Tensor(shape: [1, 4], data: [1, 2, 3, 4])
        XCTAssertEqual(try net.forward(inputs: [x], training: false)[1], x)
        var two = functionalModel(input: [4], [("d", .dense(DenseSpec(units: 2)))])
        two.layers[1].inbound.append(TensorRef(layer: "input"))
        XCTAssertThrowsError(try Network(definition: two)) { XCTAssertEqual("\($0)", "layer 'd': takes 2 inputs; a Dense takes one") }
    }

    func testFunctionalGraphIsWiredByInboundNotConfigOrder() throws {
        // Config order: input, b (fed by a), a (fed by input). Output is b.
        let specs = [inputSpec("in", [3]),
                     layerSpec("b", .dense(DenseSpec(units: 2)), from: "a"),
                     layerSpec("a", .activation(.relu), from: "in")]
        let def = ModelDefinition(className: "Functional", name: "m", layers: specs, inputs: [TensorRef(layer: "in")],
                                  outputs: [TensorRef(layer: "b")], config: .object([]))
        let net = try Network(definition: def)
        try net.loadWeights(["b": [Tensor(repeating: 1, shape: [3, 2]), Tensor(zeros: [2])]])
        let y = try net.forward(Tensor(shape: [1, 3], data: [1, -2, 3]), training: false)
        XCTAssertEqual(y.data, [4, 4])
    }
}
