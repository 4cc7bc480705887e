import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// A step of a model with several outputs: the total is the weighted sum of the outputs' losses
/// (plus the penalties), each output's gradient flows back weighted and meets the others in the
/// shared layers, an output without a loss sends none, and the history names each output.
final class TrainerOutputsTests: XCTestCase {
    /// in (4) -> h = relu(Dense 5, L2 kernel) -> cls = softmax(Dense 3), reg = Dense 2, aux = Dense 1.
    private func network() throws -> Network {
        let definition = try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 4]}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "h", "config": {"name": "h", "units": 5, "activation": "tanh",
               "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}}, "inbound_nodes": [[["in", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "cls", "config": {"name": "cls", "units": 3, "activation": "softmax"}, "inbound_nodes": [[["h", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "reg", "config": {"name": "reg", "units": 2}, "inbound_nodes": [[["h", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "aux", "config": {"name": "aux", "units": 1}, "inbound_nodes": [[["h", 0, 0, {}]]]}],
             "input_layers": [["in", 0, 0]], "output_layers": [["cls", 0, 0], ["reg", 0, 0], ["aux", 0, 0]]}}
            """#)
        return try Network(definition: definition, initializerSeed: 4)
    }

    private let losses = ModelLoss.perOutput([
        OutputLoss(name: "cls", loss: Loss(.categoricalCrossentropy)),
        OutputLoss(name: "reg", loss: Loss(.meanSquaredError), weight: 0.5),
        OutputLoss(name: "aux", loss: nil, weight: 2),
    ])

    private func batch() -> BatchTensors {
        var generator = SeededGenerator(seed: 9)
        let x = Tensor(shape: [6, 4], data: (0..<24).map { _ in generator.nextUnitFloat() * 2 - 1 })
        let cls = Tensor(shape: [6, 3], data: (0..<6).flatMap { i in (0..<3).map { Float($0 == i % 3 ? 1 : 0) } })
        let reg = Tensor(shape: [6, 2], data: (0..<12).map { _ in generator.nextUnitFloat() })
        return BatchTensors(inputs: [x], targets: [cls, reg])
    }

    private func sgd(_ network: Network, rate: Double) -> Optimizer {
        var optimizer = Optimizer(SGD(), flavor: .tfKeras, learningRate: rate)
        optimizer.build(shapes: network.trainableVariables.map(\.shape))
        return optimizer
    }

    /// Each output alone, by the single-output loss: its value and the gradient its backward gives.
    private func alone(_ network: Network, output k: Int, loss: Loss, labels: Tensor, x: Tensor, semantics: LossSemantics) throws -> (Float, Float, [Tensor]) {
        let outputs = try network.forward(inputs: [x], training: true)
        let activation = network.outputActivation(k).map { OutputActivation(kerasName: $0.rawValue) } ?? .other
        let evaluation = loss.evaluate(output: outputs[k], logits: network.outputLogits(k), activation: activation,
                                       labels: labels, semantics: semantics)
        var gradients = [OutputGradient?](repeating: nil, count: network.outputCount)
        switch evaluation.gradient {
        case .output(let g): gradients[k] = OutputGradient(g)
        case .logits(let g): gradients[k] = OutputGradient(g, withRespectTo: .logits)
        }
        try network.backward(outputs: gradients)
        return (evaluation.mean, evaluation.unweighted, network.variables.map(\.gradient))
    }

    func testTotalIsTheWeightedSumAndGradientsAddUp() throws {
        for semantics in [LossSemantics.tfKeras, .keras3] {
            let network = try network()
            let trainer = Trainer(network: network, optimizer: sgd(network, rate: 0), losses: losses, semantics: semantics)
            let b = batch()
            let cls = try alone(network, output: 0, loss: Loss(.categoricalCrossentropy), labels: b.targets[0], x: b.inputs[0], semantics: semantics)
            let reg = try alone(network, output: 1, loss: Loss(.meanSquaredError, weight: 0.5), labels: b.targets[1], x: b.inputs[0], semantics: semantics)
            XCTAssertEqual(reg.0, reg.1 * 0.5, accuracy: 1e-7)
            let penalty = network.regularizationPenalty()
            let result = try trainer.step(b)
            XCTAssertEqual(result.loss, cls.0 + reg.0 + penalty, "Keras's add_n of the weighted losses, then the penalty")
            XCTAssertEqual(result.outputLosses, [cls.1, reg.1], "each output's loss before its weight")
            XCTAssertEqual(result.outputCorrect.count, 2)
            // The parameter gradients (before the L2 term) are the two outputs' summed; the aux
            // head, which has no loss, gets none.
            for (i, v) in network.variables.enumerated() {
                let l2 = v.layerName == "h" && v.weightName == "kernel" ? v.value.data.map { 2 * 0.01 * $0 } : Array(repeating: 0, count: v.value.count)
                let expected = zip(zip(cls.2[i].data, reg.2[i].data), l2).map { $0.0 + $0.1 + $1 }
                let error = zip(v.gradient.data, expected).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(error, 1e-6, "\(semantics.rawValue) \(v.layerName)/\(v.weightName)")
                if v.layerName == "aux" { XCTAssertEqual(v.gradient.data.allSatisfy { $0 == 0 }, true) }
            }
        }
    }

    /// A real step moves the shared and the two trained heads and leaves the head without a loss.
    func testAStepTrainsEveryOutputWithALossAndNoOther() throws {
        let network = try network()
        let trainer = Trainer(network: network, optimizer: sgd(network, rate: 0.1), losses: losses, semantics: .tfKeras)
        let before = network.weightsByLayer
        let result = try trainer.step(batch())
        let after = network.weightsByLayer
        XCTAssertEqual(after["aux"], before["aux"])
        for layer in ["h", "cls", "reg"] { XCTAssertNotEqual(after[layer], before[layer], layer) }
        XCTAssertTrue(result.loss.isFinite)
        // evaluate and predict see every output; evaluation reports each output with a loss.
        let data = Training.Dataset(inputs: batch().inputs, targets: batch().targets, inputNames: ["in"], targetNames: ["cls", "reg"],
                                    source: .inMemory(name: "t"))
        let evaluated = try trainer.evaluation(data, batchSize: 4)
        XCTAssertEqual(evaluated.outputLosses.count, 2)
        let penalty = Double(network.regularizationPenalty())
        XCTAssertEqual(evaluated.loss, evaluated.outputLosses[0] + 0.5 * evaluated.outputLosses[1] + penalty, accuracy: 1e-5)
        let predicted = try trainer.predict(inputs: data.inputs, batchSize: 4)
        XCTAssertEqual(predicted.map(\.shape), [[6, 3], [6, 2], [6, 1]])
        XCTAssertEqual(predicted[1], try network.forward(inputs: data.inputs, training: false)[1])
    }
}
