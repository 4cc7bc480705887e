import Diagnostics
import Foundation
import KerasFile
import Training
import XCTest

final class RunScanTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try RunFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testHealthyRunIsOKAndResumesFromItsLastEpoch() throws {
        try RunFixtures.train(3, into: directory)
        let scan = try RunScan(directory: directory)
        XCTAssertEqual(scan.epochs.map(\.epoch), [1, 2, 3], "best.h5 has no epoch in its name and is left out")
        XCTAssertEqual(scan.verdict, .ok)
        XCTAssertEqual(scan.verdict.exitStatus, 0)
        XCTAssertNil(scan.firstJumpEpoch)
        XCTAssertNil(scan.firstNaNEpoch)
        XCTAssertNil(scan.firstExplosionEpoch)
        XCTAssertEqual(scan.lastHealthy?.epoch, 3)
        let history = try String(contentsOfFile: directory + "/history.csv", encoding: .utf8)
        let rows = RunHistory.parse(history)
        XCTAssertEqual(scan.epochs.map(\.loss), rows.map { $0.values["loss"] })
        XCTAssertNotNil(scan.epochs[0].valLoss)
        XCTAssertEqual(scan.epochs[0].layerNorms.map(\.layer), ["conv2d", "dense"])
        // Two computations of one quantity: during training (history.csv) and from the file.
        for (epoch, row) in zip(scan.epochs, rows) {
            XCTAssertEqual(epoch.weightNorm, try XCTUnwrap(row.values["weight_norm"]), accuracy: 1e-9 * epoch.weightNorm)
            XCTAssertEqual(try XCTUnwrap(epoch.adamMaxUpdateRatio), try XCTUnwrap(row.values["adam_max_update_ratio"]), accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(epoch.adamSqrtVHatP1), try XCTUnwrap(row.values["adam_sqrt_vhat_p1"]), accuracy: 1e-12)
        }
    }

    /// Epochs 1-2 healthy, 3 with a kernel x1e4, 4 with a NaN: the explosion comes first, the
    /// NaN after it, and the checkpoint to resume from is epoch 2.
    func testDoctoredRunNamesExplosionNaNAndLastHealthy() throws {
        let source = directory + "/source"
        try RunFixtures.train(4, into: source)
        let run = directory + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        for epoch in [1, 2] { try RunFixtures.copy(source + "/" + TrainingRun.checkpointName(epoch), to: run + "/" + TrainingRun.checkpointName(epoch)) }
        try RunFixtures.doctor(source + "/epoch-0003.h5", to: run + "/epoch-0003.h5", layer: "dense") { $0 = $0.map { $0 * 1e4 } }
        try RunFixtures.doctor(source + "/epoch-0004.h5", to: run + "/epoch-0004.h5", layer: "conv2d", index: 1) { $0[0] = .infinity }
        let scan = try RunScan(directory: run)
        XCTAssertEqual(scan.firstExplosionEpoch, 3)
        XCTAssertEqual(scan.firstNaNEpoch, 4)
        XCTAssertNil(scan.firstJumpEpoch, "the losses recorded during training were fine")
        XCTAssertEqual(scan.lastHealthy?.epoch, 2)
        XCTAssertEqual(scan.verdict, .nan)
        XCTAssertEqual(scan.verdict.exitStatus, 1)
        XCTAssertEqual(scan.epochs[2].largestGrowth?.tensor, "dense/kernel:0")
        XCTAssertEqual(scan.epochs[3].infCount, 1)
        XCTAssertEqual(scan.epochs.map(\.flags), [[], [], ["explosion"], ["nan"]], "a shrink back is no explosion")
    }

    /// Keras ModelCheckpoint names and a CSVLogger log (epochs from 0): the loss jump at the
    /// third epoch is found and the second checkpoint is the one to resume from.
    func testKerasNamedCheckpointsWithCSVLoggerHistory() throws {
        let source = directory + "/source"
        try RunFixtures.train(3, into: source)
        let run = directory + "/keras"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        for (epoch, name) in [(1, "weights.01-0.70.h5"), (2, "weights.02-0.69.h5"), (3, "weights.03-2.41.h5")] {
            try RunFixtures.doctor(source + "/" + TrainingRun.checkpointName(epoch), to: run + "/" + name, layer: "dense",
                                   dropRelapseState: true) { _ in }
        }
        try "epoch,accuracy,loss\n0,0.5,0.70\n1,0.6,0.69\n2,0.5,2.41\n".write(toFile: run + "/training.log", atomically: true, encoding: .utf8)
        let scan = try RunScan(directory: run)
        XCTAssertEqual(scan.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(scan.epochs.map(\.loss), [0.70, 0.69, 2.41])
        XCTAssertEqual(scan.firstJumpEpoch, 3)
        XCTAssertEqual(scan.lastHealthy?.epoch, 2)
        XCTAssertEqual(scan.verdict, .jump)
        XCTAssertEqual(scan.epochs.last?.flags, ["jump"])
    }

    /// The loss bottoms out at epoch 2, creeps up, then spikes at 5: the last healthy checkpoint
    /// is the best one before the spike (its reference), not the one right before it.
    func testLastHealthyIsTheBestEpochBeforeTheSpikeAndSymptomsAreListed() throws {
        let source = directory + "/source"
        try RunFixtures.train(5, into: source)
        let run = directory + "/keras"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        for epoch in 1...5 {
            try RunFixtures.doctor(source + "/" + TrainingRun.checkpointName(epoch), to: run + "/model_epoch_\(epoch).h5",
                                   layer: "dense", dropRelapseState: true) { _ in }
        }
        try "epoch,loss\n0,0.9\n1,0.3\n2,0.35\n3,0.4\n4,0.9\n".write(toFile: run + "/training.log", atomically: true, encoding: .utf8)
        let scan = try RunScan(directory: run)
        XCTAssertEqual(scan.firstJumpEpoch, 5)
        XCTAssertEqual(scan.firstProblemEpoch, 5)
        XCTAssertEqual(scan.lastHealthy?.epoch, 2)
        XCTAssertEqual(scan.symptoms.map(\.name), ["spike"])
        XCTAssertEqual(scan.symptoms.first?.epochs, [5])
        XCTAssertTrue(scan.text().contains("  spike  epochs 5: loss 0.9 >= 2 x best 0.3 (epoch 2)"), scan.text())
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(scan.json().serialized().utf8)) as? [String: Any])
        XCTAssertEqual((json["symptoms"] as? [[String: Any]])?.first?["first_epoch"] as? Int, 5)
    }

    func testJSONHasTheFirstEpochKeysAndEpochs() throws {
        try RunFixtures.train(2, into: directory)
        let text = try RunScan(directory: directory).json().serialized()
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(object["verdict"] as? String, "ok")
        for key in ["first_jump_epoch", "first_nan_epoch", "first_explosion_epoch"] {
            XCTAssertTrue(object[key] is NSNull, key)
        }
        XCTAssertEqual(object["last_healthy_epoch"] as? Int, 2)
        let epochs = try XCTUnwrap(object["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochs.map { $0["epoch"] as? Int }, [1, 2])
        XCTAssertNotNil(epochs[0]["loss"] as? Double)
        XCTAssertEqual((epochs[0]["layer_norms"] as? [String: Any])?.keys.sorted(), ["conv2d", "dense"])
    }

    func testEveryKerasLayoutScansUnderModelCheckpointNames() throws {
        for (i, name) in ["keras22-adam.h5", "keras3-adam-trained.h5", "tfk-adam-trained.h5", "tfk-sgd-momentum-trained.h5"].enumerated() {
            let run = directory + "/layout\(i)"
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            try RunFixtures.copy(RunFixtures.fixture(name), to: run + "/model_epoch_5.h5")
            try RunFixtures.copy(RunFixtures.fixture(name), to: run + "/model_epoch_12.h5")
            let scan = try RunScan(directory: run)
            XCTAssertEqual(scan.epochs.map(\.epoch), [5, 12], name)
            XCTAssertEqual(scan.verdict, .ok, name)
            XCTAssertEqual(scan.epochs[1].largestGrowth?.ratio, 1, name)
            XCTAssertEqual(scan.epochs[0].adamMaxUpdateRatio != nil, name.contains("adam"), name)
        }
    }

    func testUnreadableCheckpointIsReportedAndEmptyFolderThrows() throws {
        XCTAssertThrowsError(try RunScan(directory: directory))
        XCTAssertThrowsError(try RunScan(directory: directory + "/nope"))
        try RunFixtures.train(1, into: directory)
        try Data("truncated".utf8).write(to: URL(fileURLWithPath: directory + "/epoch-0002.h5"))
        let scan = try RunScan(directory: directory)
        XCTAssertEqual(scan.epochs.map(\.epoch), [1])
        XCTAssertEqual(scan.unreadable.map { ($0.file as NSString).lastPathComponent }, ["epoch-0002.h5"])
    }

    func testEpochFromCheckpointNames() {
        let cases: [(String, Int?)] = [
            ("epoch-0007.h5", 7), ("weights.05-0.42.h5", 5), ("model_epoch_12.h5", 12), ("model_v2_epoch_03.hdf5", 3),
            ("epoch-0007-nan-batch-0012.h5", 7), ("ckpt-3.hdf5", 3), ("weights-improvement-08-0.91.hdf5", 8),
            ("best.h5", nil), (".epoch-0003.h5.tmp-123", nil), (".epoch-0003.h5", nil), ("history.csv", nil), ("epoch-0004.keras", 4), ("best.keras", nil),
        ]
        for (name, epoch) in cases { XCTAssertEqual(CheckpointName.epoch(of: name), epoch, name) }
        // The stopped state belongs to its epoch but is not its end (scan flags it mid-epoch).
        XCTAssertTrue(CheckpointName.isStoppedState("epoch-0007-nan-batch-0012.h5"))
        XCTAssertFalse(CheckpointName.isStoppedState("epoch-0007.h5"))
    }
}
