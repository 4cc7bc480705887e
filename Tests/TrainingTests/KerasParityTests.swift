import Foundation
import HDF5
import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// One epoch in Relapse against the same epoch in real tf-keras (fixtures/train-*.h5, made by
/// tools/make_fixtures.py): same start weights, same data, batch 64, no shuffling.
final class KerasParityTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String { root.appendingPathComponent("fixtures/\(name)").path }

    func trainingData() throws -> Training.Dataset {
        let file = try File.open(Self.fixture("train-data.h5"))
        let x = Tensor(try file.root.dataset("x").read())
        let y = Tensor(try file.root.dataset("y").read())
        return Dataset(x: x, y: y, source: .hdf5(path: Self.fixture("train-data.h5")))
    }

    /// Trains `start` one epoch and compares every weight with `after` (relative L2 <= 1e-4)
    /// and the epoch loss with the one Keras reported (relative <= 1e-5).
    func assertOneEpochMatchesKeras(start: String, after: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try KerasModel.loadFullModel(Self.fixture(start))
        let trainingConfig = try XCTUnwrap(model.trainingConfig)
        let optimizer = try Optimizer(trainingConfig: trainingConfig, flavor: OptimizerFlavor(producer: model.producer))
        let parsed = Loss.parse(trainingConfig: trainingConfig.json)
        XCTAssertEqual(parsed.refusals, [], file: file, line: line)
        let loss = try XCTUnwrap(parsed.loss)
        let trainer = Trainer(network: try Network(model: model), optimizer: optimizer, loss: loss,
                              semantics: LossSemantics(producer: model.producer, backend: model.backend))
        let data = try trainingData()
        let result = try trainer.trainEpoch(data, order: Array(0..<data.count), batchSize: 64)

        let expected = try KerasModel.loadFullModel(Self.fixture(after))
        let referenceLoss = try XCTUnwrap(File.open(Self.fixture(after)).root.attribute("reference_epoch_loss")?.numberList?.first)
        XCTAssertEqual(result.loss, referenceLoss, accuracy: abs(referenceLoss) * 1e-5, "epoch loss", file: file, line: line)
        for (parameter, name) in zip(trainer.network.parameters, trainer.network.parameterNames) {
            let position = try XCTUnwrap(expected.definition?.layer(named: name.layer)?.weightNames.firstIndex(of: name.weight))
            let reference = Tensor(expected.weights(of: name.layer)[position])
            let difference = zip(parameter.data, reference.data).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let norm = reference.data.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            XCTAssertLessThanOrEqual(difference / max(norm, 1e-12), 1e-4, "\(name.layer)/\(name.weight)", file: file, line: line)
        }
        XCTAssertEqual(trainer.optimizer.iterations, expected.optimizerState?.iterations, file: file, line: line)
    }

    func testAdamBinaryCrossentropyMatchesKeras() throws {
        try assertOneEpochMatchesKeras(start: "train-start-adam.h5", after: "train-after-adam.h5")
    }

    func testSGDNesterovMatchesKeras() throws {
        try assertOneEpochMatchesKeras(start: "train-start-sgd.h5", after: "train-after-sgd.h5")
    }

    func testAdamCategoricalCrossentropyMatchesKeras() throws {
        try assertOneEpochMatchesKeras(start: "train-start-adam-cce.h5", after: "train-after-adam-cce.h5")
    }

    func testAdamMeanSquaredErrorMatchesKeras() throws {
        try assertOneEpochMatchesKeras(start: "train-start-adam-mse.h5", after: "train-after-adam-mse.h5")
    }
}
