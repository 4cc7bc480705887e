import Foundation
import KerasFile
import XCTest

/// `relapse replay`, `relapse bisect`, `--stop-on`, `--skip-batches` and `--convolution direct`
/// end to end on a short run of the small fixture model (192 training images, 3 batches of 64).
final class ReplayCommandTests: XCTestCase {
    var directory = ""
    var run: String { directory + "/run" }

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Four epochs at a learning rate high enough that the update-ratio rule holds early on.
    func trainRun(_ extra: [String] = []) throws -> CommandResult {
        try Relapse.run(["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                         "--validation-split", "0.25", "--batch-size", "64", "--learning-rate", "0.05", "--epochs", "4",
                         "--checkpoints", run] + extra)
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testReplayControlIsBitIdenticalAndEachTryIsABranch() throws {
        let trained = try trainRun()
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("symptom: update-ratio from epoch 1:"), trained.stdout)

        let result = try Relapse.run(["replay", run, "--from", "1", "--epochs", "2", "--symptom", "update-ratio",
                                      "--try", "--learning-rate 1e-4", "--try", "--epsilon 1e-3", "--jobs", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try json(result.stdout)
        XCTAssertEqual(report["from_epoch"] as? Int, 1)
        let branches = try XCTUnwrap(report["branches"] as? [[String: Any]])
        XCTAssertEqual(branches.map { $0["name"] as? String }, ["control", "lr0.0001", "eps0.001"])
        let control = branches[0]
        XCTAssertEqual(control["identical_to_original"] as? Bool, true)
        XCTAssertEqual(control["recurred"] as? Bool, true)
        XCTAssertEqual(control["first_symptom_epoch"] as? Int, 2)
        XCTAssertTrue(branches[1]["identical_to_original"] is NSNull)
        XCTAssertEqual(branches[1]["recurred"] as? Bool, false, "lr 1e-4 moves the weights far less than 0.1 of their norm")
        XCTAssertEqual(branches[1]["flags"] as? String, "--learning-rate 1e-4")
        for branch in branches {
            let dir = try XCTUnwrap(branch["dir"] as? String)
            XCTAssertTrue(dir.hasPrefix(run + "/replay-0001-"), dir)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/epoch-0003.h5"), dir)
            let record = try String(contentsOfFile: dir + "/branch.json", encoding: .utf8)
            XCTAssertTrue(record.contains("\"epoch\": 1") || record.contains("\"epoch\":1"), record)
            XCTAssertNotNil(branch["min_loss"] as? Double)
            XCTAssertNotNil(branch["final_val_loss"] as? Double)
        }
        let svg = try String(contentsOfFile: run + "/replay-from-0001.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("data-series=\"control\"") && svg.contains("data-series=\"original\""))

        // The table, and a second replay never lands in the first one's folders.
        let again = try Relapse.run(["replay", run, "--from", "1", "--epochs", "1", "--no-control", "--try", "--epsilon 1e-3"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("replay-0001-eps0.001-2"), again.stdout)
        XCTAssertTrue(again.stdout.contains("Branch"), again.stdout)
    }

    func testReplayBadInputIsOneLineAndExitTwo() throws {
        XCTAssertEqual(try trainRun().status, 0)
        for arguments in [["--try", "--learning-rate -1"], ["--try", "--epochs 3"], ["--from", "9"], ["--try", "--no-such-flag"]] {
            let result = try Relapse.run(["replay", run, "--epochs", "1"] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stdout) \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
        let missing = try Relapse.run(["replay", directory + "/nothing"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains(directory + "/nothing"), missing.stderr)
    }

    func testStopOnEndsTheRunAfterTheSymptomsEpoch() throws {
        let result = try trainRun(["--stop-on", "update-ratio", "--save-every", "3"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stdout.contains("stopped: update-ratio at epoch 1"), result.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/epoch-0001.h5"), "written whatever --save-every says")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/epoch-0002.h5"))
        let bad = try Relapse.run(["train", "--stop-on", "sneeze", "--checkpoints", directory + "/x"])
        XCTAssertNotEqual(bad.status, 0)
    }

    func testSkippingAWholeEpochsBatchesLeavesTheWeightsAsTheyWere() throws {
        XCTAssertEqual(try trainRun().status, 0)
        // Epoch 3 holds global batches 7 to 9.
        let branch = directory + "/skip"
        let result = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--checkpoints", branch, "--skip-batches", "7:9"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("skipping batches 7 to 9"), result.stdout)
        let before = try KerasModelFile.read(run + "/epoch-0002.h5"), after = try KerasModelFile.read(branch + "/epoch-0003.h5")
        XCTAssertEqual(before.layerWeights, after.layerWeights)
        XCTAssertEqual(before.optimizerWeights, after.optimizerWeights, "no step: Adam's iterations and moments stay")
        let original = try KerasModelFile.read(run + "/epoch-0003.h5")
        XCTAssertNotEqual(original.layerWeights, after.layerWeights)

        let bad = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--skip-batches", "9:7"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
    }

    func testDirectConvolutionIsRecordedAndKeptByLaterResumes() throws {
        XCTAssertEqual(try trainRun().status, 0)
        let branch = directory + "/direct"
        let result = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--checkpoints", branch, "--convolution", "direct"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("convolution fastest -> direct"), result.stdout)
        let again = try Relapse.run(["resume", branch + "/epoch-0003.h5", "--epochs", "1", "--checkpoints", directory + "/direct2"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stdout.contains("convolution"), "the recorded choice is kept, not changed: \(again.stdout)")
        let state = try XCTUnwrap(try KerasModelFile.read(directory + "/direct2/epoch-0004.h5").relapseState)
        XCTAssertTrue(state.contains("\"convolution\":\"direct\""), state)
    }

    func testBisectReplaysTheEpochBitForBitAndNamesABatch() throws {
        XCTAssertEqual(try trainRun().status, 0)
        let result = try Relapse.run(["bisect", run, "--epoch", "3", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try json(result.stdout)
        XCTAssertEqual(report["identical_to_recorded"] as? Bool, true)
        let batches = try XCTUnwrap(report["batches"] as? [[String: Any]])
        XCTAssertEqual(batches.map { $0["global_batch"] as? Int }, [7, 8, 9])
        let indices = batches.flatMap { ($0["indices"] as? [Int]) ?? [] }
        XCTAssertEqual(indices.sorted(), Array(0..<192), "one shuffled pass over the training data")
        XCTAssertNotNil(report["named_batch"] as? Int)
        XCTAssertEqual((report["sample_indices"] as? [Int])?.count, 64)
        let text = try Relapse.run(["bisect", run, "--epoch", "3"])
        XCTAssertTrue(text.stdout.contains("(bit for bit)"), text.stdout)
        let none = try Relapse.run(["bisect", run])
        XCTAssertEqual(none.status, 2, "a healthy run has no epoch to bisect: \(none.stdout)")
        XCTAssertEqual(none.stderr.split(separator: "\n").count, 1)
    }
}
