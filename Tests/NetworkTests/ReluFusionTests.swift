import ReferenceMath
import XCTest
@testable import KerasFile
@testable import Kernels
@testable import Network

/// A plain ReLU run inside the BatchNormalization or Add before it (`Graph.fuseReLUs`): the same
/// outputs, gradients and moving statistics bit for bit as the layers apart, in every Keras's
/// BatchNormalization arithmetic (centered and affine forms), on channel counts that fill vector
/// lanes and that leave some over; and no fusion where the first layer's own output is needed.
final class ReluFusionTests: XCTestCase {
    private let plainRelu = LayerKind.activationLayer(.relu(negativeSlope: 0, maxValue: nil, threshold: 0))

    /// in [4, 4, C] -> bn -> relu -> flatten -> dense 3.
    private func chain(channels: Int, _ spec: BatchNormalizationSpec, relu: LayerKind) -> ModelDefinition {
        functionalModel(input: [4, 4, channels], [
            ("bn", .batchNormalization(spec)), ("relu", relu),
            ("flat", .flatten(.channelsLast)), ("out", .dense(DenseSpec(units: 3))),
        ])
    }

    private func fusedPairs(_ network: Network) -> Int {
        network.graph.nodes.filter { $0.layer.base is FusedReluLayer }.count
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

    /// Two training steps and an inference-mode step (moving statistics, then a backward through
    /// them), fused against apart: every output, gradient and weight the same bits.
    private func assertSameAsApart(_ definition: ModelDefinition, channels: Int, _ what: String, fusing expected: Int = 1,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let fused = try Network(definition: definition)
        let apart = try Network(definition: definition, fuseLayers: false)
        XCTAssertEqual(fusedPairs(fused), expected, "fused pairs: \(what)", file: file, line: line)
        XCTAssertEqual(fusedPairs(apart), 0, file: file, line: line)
        try fill(fused, seed: 5)
        try fill(apart, seed: 5)
        let count = 6 * 16 * channels
        for (step, training) in [true, true, false].enumerated() {
            // Shifted inputs so that some channels sit mostly below zero after normalising.
            let x = Tensor(shape: [6, 4, 4, channels], data: randomValues(count, seed: 20 + UInt64(step)).enumerated().map { i, v in
                Float(v * 3 + Double(i % channels) - Double(channels) / 2)
            })
            let a = try fused.forward(x, training: training), b = try apart.forward(x, training: training)
            XCTAssertEqual(bits(a), bits(b), "output, step \(step): \(what)", file: file, line: line)
            // Every ReLU's output (a fused one's is its source layer's buffer) the same bits, and
            // the masks pass some values and stop some.
            XCTAssertEqual(fused.reluOutputs.map(\.layer), apart.reluOutputs.map(\.layer), file: file, line: line)
            for (f, p) in zip(fused.reluOutputs, apart.reluOutputs) {
                XCTAssertEqual(bits(f.output), bits(p.output), "\(f.layer) output: \(what)", file: file, line: line)
            }
            XCTAssertTrue(fused.reluOutputs.contains { $0.output.data.contains(0) && $0.output.data.contains { $0 > 0 } },
                          "the mask passes some and stops some: \(what)", file: file, line: line)
            let g = Tensor(shape: a.shape, data: randomValues(a.count, seed: 40 + UInt64(step)).map(Float.init))
            try fused.backward(g)
            try apart.backward(g)
            for (p, q) in zip(fused.variables, apart.variables) {
                XCTAssertEqual(bits(p.gradient), bits(q.gradient), "\(p.layerName)/\(p.weightName) gradient, step \(step): \(what)", file: file, line: line)
                XCTAssertEqual(bits(p.value), bits(q.value), "\(p.layerName)/\(p.weightName), step \(step): \(what)", file: file, line: line)
            }
        }
    }

    func testFusedPairMatchesTheLayersApartBitForBit() throws {
        let specs: [(String, BatchNormalizationSpec)] = [
            ("tf.keras fused (centered)", BatchNormalizationSpec(momentum: 0.9, generation: .tfKeras)),
            ("tf.keras unfused (affine)", BatchNormalizationSpec(momentum: 0.9, fused: false, generation: .tfKeras)),
            ("Keras 3 (affine)", BatchNormalizationSpec(momentum: 0.9, generation: .keras3)),
            ("Keras 2.2 (centered)", BatchNormalizationSpec(axis: 3, momentum: 0.9, generation: .keras2)),
            ("no gamma, no beta", BatchNormalizationSpec(center: false, scale: false, generation: .tfKeras)),
        ]
        for (what, spec) in specs {
            for channels in [3, 16, 21] {
                for relu in [plainRelu, LayerKind.activation(.relu)] {
                    try assertSameAsApart(chain(channels: channels, spec, relu: relu), channels: channels, "\(what), \(channels) channels, \(relu)")
                }
            }
        }
    }

    /// in -> bn -> relu (optional) -> add(that, in) -> relu -> flatten -> dense 3.
    private func residual(channels: Int, reluAfterNormalization: Bool) -> ModelDefinition {
        var layers = [inputSpec("input", [4, 4, channels]), layerSpec("bn", .batchNormalization(BatchNormalizationSpec(momentum: 0.9)), from: "input")]
        if reluAfterNormalization { layers.append(layerSpec("r1", plainRelu, from: "bn")) }
        layers.append(LayerSpec(name: "sum", className: "Add", kind: .merge(.add),
                                inbound: [TensorRef(layer: layers.last!.name), TensorRef(layer: "input")], config: .object([])))
        layers.append(layerSpec("relu", .activation(.relu), from: "sum"))
        layers.append(layerSpec("flat", .flatten(.channelsLast), from: "relu"))
        layers.append(layerSpec("out", .dense(DenseSpec(units: 3)), from: "flat"))
        return ModelDefinition(className: "Functional", name: "m", layers: layers, inputs: [TensorRef(layer: "input")],
                               outputs: [TensorRef(layer: "out")], config: .object([]))
    }

    func testFusedAddMatchesTheLayersApartBitForBit() throws {
        for channels in [3, 16] {
            try assertSameAsApart(residual(channels: channels, reluAfterNormalization: false), channels: channels, "Add + ReLU, \(channels) channels")
            try assertSameAsApart(residual(channels: channels, reluAfterNormalization: true), channels: channels,
                                  "BN + ReLU and Add + ReLU, \(channels) channels", fusing: 2)
        }
    }

    /// Residual blocks whose fused Add + ReLU outputs have two and three readers: the gradients
    /// that meet there reach the Add unsummed and are summed inside its masked pass, in the order
    /// they arrived (in -> bn1 -> add1(bn1, in) -> r1; r1 -> bn2 -> add2(bn2, r1) -> r2;
    /// add3(r2, r1) -> r3 -> flatten -> dense).
    func testGradientsMeetingAtAFusedAddAreSummedInItsMaskedPass() throws {
        let channels = 16
        let bn = LayerKind.batchNormalization(BatchNormalizationSpec(momentum: 0.9))
        func add(_ name: String, _ a: String, _ b: String) -> LayerSpec {
            LayerSpec(name: name, className: "Add", kind: .merge(.add), inbound: [TensorRef(layer: a), TensorRef(layer: b)], config: .object([]))
        }
        let layers = [
            inputSpec("input", [4, 4, channels]), layerSpec("bn1", bn, from: "input"), add("add1", "bn1", "input"),
            layerSpec("r1", plainRelu, from: "add1"), layerSpec("bn2", bn, from: "r1"), add("add2", "bn2", "r1"),
            layerSpec("r2", plainRelu, from: "add2"), add("add3", "r2", "r1"), layerSpec("relu", plainRelu, from: "add3"),
            layerSpec("flat", .flatten(.channelsLast), from: "relu"), layerSpec("out", .dense(DenseSpec(units: 3)), from: "flat"),
        ]
        let definition = ModelDefinition(className: "Functional", name: "m", layers: layers, inputs: [TensorRef(layer: "input")],
                                         outputs: [TensorRef(layer: "out")], config: .object([]))
        let network = try Network(definition: definition)
        let summing = network.graph.nodes.indices.filter { network.graph.sumsAtFusedAdd[$0] }.map { network.graph.nodes[$0].layer.base.name }
        XCTAssertEqual(summing, ["r1", "r2", "relu"])
        try assertSameAsApart(definition, channels: channels, "two residual blocks", fusing: 3)
    }

    func testNoFusionWhereTheFirstLayersOwnValuesAreNeeded() throws {
        let spec = BatchNormalizationSpec(generation: .tfKeras)
        // A ReLU with options, and a channels-first BatchNormalization.
        XCTAssertEqual(fusedPairs(try Network(definition: chain(channels: 4, spec, relu: .activationLayer(.relu(negativeSlope: 0, maxValue: 6, threshold: 0))))), 0)
        let channelsFirst = functionalModel(input: [4, 3, 3], [
            ("bn", .batchNormalization(BatchNormalizationSpec(axis: 1, generation: .tfKeras))), ("relu", plainRelu),
            ("flat", .flatten(.channelsLast)), ("out", .dense(DenseSpec(units: 2))),
        ])
        XCTAssertEqual(fusedPairs(try Network(definition: channelsFirst)), 0)
        // The BatchNormalization's output read by the ReLU and by an Add.
        var layers = [inputSpec("input", [3, 3, 4]), layerSpec("bn", .batchNormalization(spec), from: "input"),
                      layerSpec("relu", plainRelu, from: "bn")]
        layers.append(LayerSpec(name: "sum", className: "Add", kind: .merge(.add), inbound: [TensorRef(layer: "bn"), TensorRef(layer: "relu")], config: .object([])))
        let twoReaders = ModelDefinition(className: "Functional", name: "m", layers: layers, inputs: [TensorRef(layer: "input")],
                                         outputs: [TensorRef(layer: "sum")], config: .object([]))
        XCTAssertEqual(fusedPairs(try Network(definition: twoReaders)), 0)
        // An Add of three inputs has no fused path.
        var three = twoReaders
        three.layers[3].inbound = [TensorRef(layer: "input"), TensorRef(layer: "input"), TensorRef(layer: "input")]
        three.layers.append(layerSpec("r2", plainRelu, from: "sum"))
        three.outputs = [TensorRef(layer: "r2")]
        XCTAssertEqual(fusedPairs(try Network(definition: three)), 0)
        // The same graph whose BatchNormalization is read by the ReLU alone fuses.
        layers[3].inbound = [TensorRef(layer: "input"), TensorRef(layer: "relu")]
        let oneReader = ModelDefinition(className: "Functional", name: "m", layers: layers, inputs: [TensorRef(layer: "input")],
                                        outputs: [TensorRef(layer: "sum")], config: .object([]))
        XCTAssertEqual(fusedPairs(try Network(definition: oneReader)), 1)
    }
}
