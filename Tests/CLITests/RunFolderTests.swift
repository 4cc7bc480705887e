import Foundation
import KerasFile
import XCTest

/// Issue 16: runs never overwrite each other. A resume is a branch in a new folder unless told
/// otherwise; a new run needs an empty folder; a run continued in its own folder cannot replace
/// later checkpoints without --overwrite; one writer per folder.
final class RunFolderTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func train(_ folder: String, epochs: Int, _ extra: [String] = []) throws -> CommandResult {
        try Relapse.run(["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                         "--epochs", String(epochs), "--checkpoints", folder] + extra)
    }

    /// Every file under `folder` (recursively) with its bytes.
    func snapshot(_ folder: String) -> [String: Data] {
        let names = FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []
        var files: [String: Data] = [:]
        for name in names {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[name] = FileManager.default.contents(atPath: folder + "/" + name)
            }
        }
        return files
    }

    func assertRefusal(_ result: CommandResult, names path: String, says phrase: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 2, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("relapse: error: \(path): "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(phrase), result.stderr, file: file, line: line)
    }

    /// The README's workflow: train 5 epochs, resume epoch 2 with another learning rate. The
    /// run is left byte for byte as it was; the branch has its own folder, its history starts
    /// with the parent's first two rows, and scan reads each as itself.
    func testResumeWritesABranchAndLeavesTheRunAlone() throws {
        let run = directory + "/r"
        XCTAssertEqual(try train(run, epochs: 5).status, 0)
        let before = snapshot(run)
        let resume = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--learning-rate", "0.05"])
        XCTAssertEqual(resume.status, 0, resume.stderr)
        let branch = run + "/from-0002-lr0.05"
        XCTAssertTrue(resume.stdout.contains("branch: epochs 3 to 3 go to \(branch)"), resume.stdout)
        let after = snapshot(run)
        XCTAssertEqual(after.filter { !$0.key.hasPrefix("from-") }, before, "the run's own files are untouched")
        // best.h5 only if epoch 3 beat the best so far, the parent's epochs included.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: branch).filter { $0 != "best.h5" }.sorted(),
                       [".relapse.lock", "branch.json", "epoch-0003.h5", "history.csv"])

        let parentRows = String(decoding: before["history.csv"]!, as: UTF8.self).split(separator: "\n")
        let branchRows = try String(contentsOfFile: branch + "/history.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(branchRows.count, 4, "header, the parent's epochs 1-2, its own epoch 3")
        XCTAssertEqual(Array(branchRows.prefix(3)), Array(parentRows.prefix(3)), "rows up to the fork are the parent's")
        let record = try String(contentsOfFile: branch + "/branch.json", encoding: .utf8)
        XCTAssertTrue(record.contains("\"parent\": \"\(run)/epoch-0002.h5\""), record)
        XCTAssertTrue(record.contains("\"epoch\": 2"), record)
        XCTAssertTrue(record.contains("learning_rate"), record)

        // scan: the run's five epochs, its branch listed but not read as its epochs; the branch's own.
        let scanRun = try Relapse.run(["scan", run, "--json"])
        XCTAssertEqual(scanRun.status, 0, scanRun.stdout + scanRun.stderr)
        XCTAssertEqual(scanRun.stdout.components(separatedBy: "\"file\":").count - 1, 5, "five checkpoints")
        XCTAssertTrue(scanRun.stdout.contains("\"folder\": \"from-0002-lr0.05\""), scanRun.stdout)
        let scanBranch = try Relapse.run(["scan", branch])
        XCTAssertTrue(scanBranch.stdout.contains("(1 checkpoints, 3 epochs of history)"), scanBranch.stdout)
        XCTAssertTrue(scanBranch.stdout.contains("Branch of \(run)/epoch-0002.h5 at epoch 2"), scanBranch.stdout)

        // The same resume again: another folder, never the first one.
        let again = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--learning-rate", "0.05"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: branch + "-2/epoch-0003.h5"))
        XCTAssertEqual(FileManager.default.contents(atPath: branch + "/epoch-0003.h5"), after["from-0002-lr0.05/epoch-0003.h5"],
                       "the first branch is untouched")
    }

    func testTrainRefusesAFolderHoldingARunUnlessOverwrite() throws {
        let run = directory + "/r"
        XCTAssertEqual(try train(run, epochs: 3).status, 0)
        let before = snapshot(run)
        assertRefusal(try train(run, epochs: 1), names: run, says: "is not empty")
        XCTAssertEqual(snapshot(run), before, "nothing touched")

        let replaced = try train(run, epochs: 2, ["--overwrite"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run).sorted(),
                       [".relapse.lock", "best.h5", "epoch-0001.h5", "epoch-0002.h5", "history.csv"], "the old epoch 3 is gone")
        XCTAssertEqual(try String(contentsOfFile: run + "/history.csv", encoding: .utf8).split(separator: "\n").count, 3)

        // A folder with someone else's file is not empty either, and --overwrite leaves that file.
        let other = directory + "/notes"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "mine".write(toFile: other + "/README", atomically: true, encoding: .utf8)
        assertRefusal(try train(other, epochs: 1), names: other, says: "is not empty (it holds README)")
        XCTAssertEqual(try train(other, epochs: 1, ["--overwrite"]).status, 0)
        XCTAssertEqual(try String(contentsOfFile: other + "/README", encoding: .utf8), "mine")
    }

    func testContinuingInItsOwnFolderNeverReplacesLaterCheckpointsUnlessOverwrite() throws {
        let run = directory + "/r"
        XCTAssertEqual(try train(run, epochs: 5).status, 0)
        let before = snapshot(run)
        let refused = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--checkpoints", run])
        assertRefusal(refused, names: run, says: "holds checkpoints after epoch 2 (epoch-0003.h5, epoch-0004.h5, epoch-0005.h5)")
        XCTAssertEqual(snapshot(run), before, "nothing touched")

        let replaced = try Relapse.run(["resume", run + "/epoch-0002.h5", "--epochs", "1", "--checkpoints", run, "--overwrite"])
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run).sorted(),
                       [".relapse.lock", "best.h5", "epoch-0001.h5", "epoch-0002.h5", "epoch-0003.h5", "history.csv"])
        XCTAssertEqual(try String(contentsOfFile: run + "/history.csv", encoding: .utf8).split(separator: "\n").count, 4)
        let best = try KerasModel.load(run + "/best.h5").relapseState ?? ""
        XCTAssertNil(best.range(of: #""epoch":[45],"#, options: .regularExpression), "best.h5 is not from the replaced epochs")

        // Continuing from the newest checkpoint needs no flag: nothing is in the way.
        let onward = try Relapse.run(["resume", run + "/epoch-0003.h5", "--epochs", "1", "--checkpoints", run])
        XCTAssertEqual(onward.status, 0, onward.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/epoch-0004.h5"))
    }

    /// One writer per folder: a second process is refused while the first runs; the kernel
    /// releases the lock when the first is killed, so the next writer goes ahead.
    func testASecondWriterIsRefusedAndAKilledWritersLockIsReleased() throws {
        let run = directory + "/r"
        let first = Process()
        first.executableURL = Relapse.executable
        first.arguments = ["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                           "--epochs", "500", "--batch-size", "4", "--checkpoints", run]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        guard FileManager.default.isExecutableFile(atPath: Relapse.executable.path) else { throw XCTSkip("relapse is not built") }
        try first.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: run + "/epoch-0001.h5") {
            guard Date() < deadline, first.isRunning else { throw XCTSkip("no first checkpoint") }
            usleep(1000)
        }
        let second = try train(run, epochs: 1, ["--overwrite"])
        assertRefusal(second, names: run, says: "is being written by another relapse process (pid \(first.processIdentifier))")
        XCTAssertTrue(first.isRunning, "the first run goes on")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let newest = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix("epoch-") }.sorted().last!
        let next = try Relapse.run(["resume", run + "/" + newest, "--epochs", "1", "--checkpoints", run])
        XCTAssertEqual(next.status, 0, next.stderr)
    }
}
