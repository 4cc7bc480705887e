import Foundation
import HDF5
import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// Checkpoints and resume: the run's whole state round-trips through the Keras file.
final class TrainingRunTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relapse-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// 8x8 one-channel images, 3 classes: data for the Sequential channels_last fixture, which has Dropout.
    func writeSmallData() throws -> String {
        var generator = SeededGenerator(seed: 42)
        let count = 96
        let x = (0..<(count * 64)).map { _ in generator.nextUnitFloat() }
        var y = [Float](repeating: 0, count: count * 3)
        for i in 0..<count { y[i * 3 + generator.nextIndex(below: 3)] = 1 }
        let path = directory + "/small.h5"
        try writeDataset(Training.Dataset(x: Tensor(shape: [count, 8, 8, 1], data: x), y: Tensor(shape: [count, 3], data: y),
                                          source: .inMemory(name: "small")), to: path)
        return path
    }

    func options(data: String) -> TrainingOptions {
        var options = TrainingOptions()
        options.data = .hdf5(path: data)
        options.batchSize = 16
        options.seed = 7
        return options
    }

    func weightsAndState(_ path: String) throws -> ([LayerWeights], KerasFile.OptimizerState?) {
        let model = try KerasModel.load(path)
        return (model.layerWeights, model.optimizerState)
    }

    func testResumeIsBitIdenticalWithShufflingAndDropout() throws {
        let data = try writeSmallData()
        let model = KerasParityTests.fixture("tfk-sequential-channels-last.h5")
        let straight = try RunSetup.start(modelPath: model, options: options(data: data))
        _ = try straight.run(epochs: 4, directory: directory + "/straight", shouldStop: { false })

        let first = try RunSetup.start(modelPath: model, options: options(data: data))
        _ = try first.run(epochs: 2, directory: directory + "/split", shouldStop: { false })
        let resumed = try RunSetup.resume(checkpointPath: directory + "/split/epoch-0002.h5", options: TrainingOptions())
        _ = try resumed.run(epochs: 2, directory: directory + "/split", shouldStop: { false })

        let a = try weightsAndState(directory + "/straight/epoch-0004.h5")
        let b = try weightsAndState(directory + "/split/epoch-0004.h5")
        XCTAssertEqual(a.0, b.0, "weights bit for bit")
        XCTAssertEqual(a.1, b.1, "optimizer state bit for bit")
        XCTAssertEqual(a.1?.iterations, 2 + 24, "the fixture had 2 Keras steps")
        let history = try String(contentsOfFile: directory + "/split/history.csv", encoding: .utf8)
        XCTAssertEqual(history, try String(contentsOfFile: directory + "/straight/history.csv", encoding: .utf8))

        // Shuffling and dropout really are on: another seed ends elsewhere.
        var other = options(data: data)
        other.seed = 8
        let different = try RunSetup.start(modelPath: model, options: other)
        _ = try different.run(epochs: 4, directory: directory + "/other", shouldStop: { false })
        XCTAssertNotEqual(try weightsAndState(directory + "/other/epoch-0004.h5").0, a.0)
    }

    func testResumeWithChangedEpsilonKeepsStateAndRecordsTheChange() throws {
        let data = try writeSmallData()
        let model = KerasParityTests.fixture("tfk-sequential-channels-last.h5")
        let run = try RunSetup.start(modelPath: model, options: options(data: data))
        _ = try run.run(epochs: 1, directory: directory, shouldStop: { false })
        var overrides = TrainingOptions()
        overrides.hyperparameters = [("epsilon", .double(1e-3))]
        var notes: [String] = []
        let resumed = try RunSetup.resume(checkpointPath: directory + "/epoch-0001.h5", options: overrides, note: { notes.append($0) })
        XCTAssertEqual(resumed.trainer.optimizer.iterations, 2 + 6, "state kept")
        XCTAssertEqual(resumed.state.changes, [RunState.Change(epoch: 2, change: "epsilon 1e-07 -> 0.001")])
        XCTAssertEqual(notes, ["changed from epoch 2: epsilon 1e-07 -> 0.001"])
        _ = try resumed.run(epochs: 1, directory: directory, shouldStop: { false })
        let saved = try KerasModel.load(directory + "/epoch-0002.h5")
        XCTAssertEqual(saved.trainingConfig?.optimizerConfig["epsilon"]?.doubleValue, 1e-3)
        XCTAssertEqual(try RunState.parse(try XCTUnwrap(saved.relapseState)).changes.count, 1)
        XCTAssertEqual(saved.optimizerState?.iterations, 2 + 12)
    }

    func testChangingTheOptimizerClassStartsFresh() throws {
        let data = try writeSmallData()
        let run = try RunSetup.start(modelPath: KerasParityTests.fixture("tfk-sequential-channels-last.h5"), options: options(data: data))
        _ = try run.run(epochs: 1, directory: directory, shouldStop: { false })
        var overrides = TrainingOptions()
        overrides.optimizer = "sgd"
        let resumed = try RunSetup.resume(checkpointPath: directory + "/epoch-0001.h5", options: overrides)
        XCTAssertEqual(resumed.trainer.optimizer.className, "SGD")
        XCTAssertEqual(resumed.trainer.optimizer.iterations, 0)
        XCTAssertTrue(resumed.state.changes.first?.change.contains("state starts fresh") ?? false)
    }

    /// Keras trained epoch 1 and saved; Relapse resumes that file for epoch 2 and must land
    /// where Keras's own second epoch did.
    func testResumingAKerasCheckpointMatchesKerasContinuing() throws {
        var options = TrainingOptions()
        options.data = .hdf5(path: KerasParityTests.fixture("train-data.h5"))
        options.batchSize = 64
        options.shuffle = false
        options.initialEpoch = 1
        let run = try RunSetup.resume(checkpointPath: KerasParityTests.fixture("keras-resume-epoch1.h5"), options: options)
        let summary = try run.run(epochs: 1, directory: directory, shouldStop: { false })
        XCTAssertEqual(summary.lastCheckpoint, directory + "/epoch-0002.h5")
        let ours = try KerasModel.load(directory + "/epoch-0002.h5")
        let keras = try KerasModel.load(KerasParityTests.fixture("keras-resume-epoch2.h5"))
        for (mine, theirs) in zip(ours.layerWeights.flatMap(\.weights), keras.layerWeights.flatMap(\.weights)) {
            let a = mine.values.floats(), b = theirs.values.floats()
            let difference = zip(a, b).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let norm = b.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            XCTAssertLessThanOrEqual(difference / norm, 1e-4, mine.name)
        }
        XCTAssertEqual(ours.optimizerState?.iterations, keras.optimizerState?.iterations)
        let kerasLoss = try XCTUnwrap(File.open(KerasParityTests.fixture("keras-resume-epoch2.h5")).root.attribute("reference_epoch_loss")?.numberList?.first)
        XCTAssertEqual(try XCTUnwrap(run.state.history.last?.values["loss"]), kerasLoss, accuracy: kerasLoss * 1e-5)
    }

    func testInterruptedEpochWritesNoCheckpoint() throws {
        let data = try writeSmallData()
        let run = try RunSetup.start(modelPath: KerasParityTests.fixture("tfk-sequential-channels-last.h5"), options: options(data: data))
        var calls = 0
        let summary = try run.run(epochs: 3, directory: directory, shouldStop: { calls += 1; return calls > 9 })
        XCTAssertTrue(summary.interrupted)
        XCTAssertEqual(summary.epochsDone, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("epoch-") }, ["epoch-0001.h5"])
    }

    /// `model.to_json()` output trains from the config's own initializers, reproducibly per seed.
    func testJSONModelInitialisesFromTheSeed() throws {
        func firstKernel(seed: UInt64, folder: String) throws -> NumericArray {
            var options = TrainingOptions()
            options.data = .synthetic(count: 16, seed: 0)
            options.loss = "binary_crossentropy"
            options.optimizer = "adam"
            options.seed = seed
            options.batchSize = 16
            let run = try RunSetup.start(modelPath: KerasParityTests.fixture("broken-lines-model.json"), options: options)
            _ = try run.run(epochs: 1, directory: directory + "/" + folder, shouldStop: { false })
            let saved = try KerasModel.load(directory + "/\(folder)/epoch-0001.h5")
            XCTAssertEqual(saved.definition?.layers.count, 8)
            return try XCTUnwrap(saved.layerWeights.first { $0.layerName == "conv2d" }?.weights.first?.values)
        }
        let a = try firstKernel(seed: 5, folder: "a")
        XCTAssertEqual(try firstKernel(seed: 5, folder: "b"), a)
        XCTAssertNotEqual(try firstKernel(seed: 6, folder: "c"), a)
    }

    func testHistoryCSVHasKerasColumns() {
        let text = HistoryCSV.text([HistoryRow(epoch: 1, values: ["loss": 0.5, "accuracy": 0.75, "val_loss": 0.25])])
        XCTAssertEqual(text, "epoch,accuracy,loss,val_loss\n1,0.75,0.5,0.25\n")
    }
}
