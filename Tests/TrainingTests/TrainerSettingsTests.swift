import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// What a layer's training settings do to a step: frozen weights stay, the optimizer keeps
/// slots only for trainable ones, constraints hold after the update, penalties join the loss.
final class TrainerSettingsTests: XCTestCase {
    private func trainer(conv: LayerTrainingSettings, loss: Loss = Loss(.categoricalCrossentropy),
                         semantics: LossSemantics = .tfKeras) throws -> Trainer {
        let config = #"""
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 1], "name": "in"}},
              {"class_name": "Conv2D", "config": {"name": "conv", "filters": 3, "kernel_size": 3, "activation": "relu"}},
              {"class_name": "Flatten", "config": {"name": "flatten"}},
              {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "softmax"}}]}}
            """#
        var definition = try ModelConfigParser.parse(config)
        definition.layers[1].training = conv
        let network = try Network(definition: definition, initializerSeed: 3)
        var optimizer = Optimizer(Adam(), flavor: .tfKeras, learningRate: 0.05)
        optimizer.build(shapes: network.trainableVariables.map(\.shape))
        return Trainer(network: network, optimizer: optimizer, loss: loss, semantics: semantics)
    }

    private func batch() -> (Tensor, Tensor) {
        var generator = SeededGenerator(seed: 5)
        let x = Tensor(shape: [4, 6, 6, 1], data: (0..<144).map { _ in generator.nextUnitFloat() })
        return (x, Tensor(shape: [4, 2], data: [1, 0, 0, 1, 1, 0, 0, 1]))
    }

    func testFrozenLayerKeepsItsWeightsAndHasNoSlots() throws {
        var frozen = LayerTrainingSettings()
        frozen.trainable = false
        let trainer = try trainer(conv: frozen)
        let before = trainer.network.variables.map(\.value)
        let (x, y) = batch()
        for _ in 0..<3 { try trainer.step(x: x, y: y) }
        let after = trainer.network.variables.map(\.value)
        XCTAssertEqual(after[0], before[0], "frozen kernel")
        XCTAssertEqual(after[1], before[1], "frozen bias")
        XCTAssertNotEqual(after[2], before[2], "the dense kernel trains")
        XCTAssertEqual(trainer.optimizer.slots["m"]?.map(\.shape), [[48, 2], [2]])
    }

    func testConstraintHoldsAfterEveryStep() throws {
        var settings = LayerTrainingSettings()
        settings.constraints = ["kernel": .maxNorm(maxValue: 0.1, axes: [0, 1, 2])]
        let trainer = try trainer(conv: settings)
        let (x, y) = batch()
        for _ in 0..<3 {
            try trainer.step(x: x, y: y)
            let kernel = trainer.network.variables[0].value.data   // (3, 3, 1, 3): filter o at o, o + 3, ...
            let norms = (0..<3).map { o in stride(from: o, to: kernel.count, by: 3).reduce(Float(0)) { $0 + kernel[$1] * kernel[$1] }.squareRoot() }
            XCTAssertTrue(norms.allSatisfy { $0 <= 0.1 + 1e-6 }, "\(norms)")
        }
    }

    func testPenaltyJoinsTheReportedLoss() throws {
        var settings = LayerTrainingSettings()
        settings.weightRegularizers = ["kernel": Regularizer(l2: 0.5)]
        let plain = try trainer(conv: LayerTrainingSettings())
        let regularized = try trainer(conv: settings)
        let (x, y) = batch()
        let penalty = regularized.network.variables[0].value.data.reduce(Float(0)) { $0 + 0.5 * $1 * $1 }
        let a = try plain.step(x: x, y: y).loss, b = try regularized.step(x: x, y: y).loss
        XCTAssertEqual(b - a, penalty, accuracy: 1e-5)
        XCTAssertNotEqual(plain.network.variables[0].value, regularized.network.variables[0].value)
    }

    /// Reduction none: the gradient of the sum (weights as with `sum`), the batch's per-sample
    /// mean reported, weighted by n^2 in tf-keras's epoch mean and by n in Keras 3's.
    func testReductionNoneTrainsAsSumAndReportsEachKerasMean() throws {
        let (x, y) = batch()
        let sum = try trainer(conv: LayerTrainingSettings(), loss: Loss(.categoricalCrossentropy, reduction: .sum))
        let none = try trainer(conv: LayerTrainingSettings(), loss: Loss(.categoricalCrossentropy, reduction: .none))
        let a = try sum.step(x: x, y: y), b = try none.step(x: x, y: y)
        XCTAssertEqual(sum.network.variables.map(\.value), none.network.variables.map(\.value))
        XCTAssertEqual(b.loss, a.loss / 4, accuracy: 1e-6)
        XCTAssertEqual(b.reportWeight, 16)
        XCTAssertEqual(a.reportWeight, 4)
        let keras3 = try trainer(conv: LayerTrainingSettings(), loss: Loss(.categoricalCrossentropy, reduction: .none), semantics: .keras3TensorFlow)
        XCTAssertEqual(try keras3.step(x: x, y: y).reportWeight, 4)
    }
}
