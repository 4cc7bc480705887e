import Foundation
import KerasFile
import XCTest

/// Issue 4's proof: a run killed with SIGKILL mid-epoch leaves only complete, loadable
/// checkpoints, and the next run cleans up the temporary file the killed writer left.
/// (tools/kill_test.py does this hundreds of times and checks bit-identical resumes.)
final class KillTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func names() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] }

    func startTraining() throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: Relapse.executable.path) else {
            throw XCTSkip("relapse is not built at \(Relapse.executable.path)")
        }
        let process = Process()
        process.executableURL = Relapse.executable
        // The first round starts the run; later ones continue it in its folder from the newest checkpoint.
        if let newest = names().filter({ $0.hasPrefix("epoch-") }).sorted().last {
            process.arguments = ["resume", directory + "/" + newest, "--epochs", "200", "--checkpoints", directory]
        } else {
            process.arguments = ["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                                 "--epochs", "200", "--batch-size", "16", "--checkpoints", directory]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits (up to a minute) for `condition` on the folder's names.
    func waitFor(_ what: String, _ condition: ([String]) -> Bool) throws {
        let deadline = Date().addingTimeInterval(60)
        while !condition(names()) {
            guard Date() < deadline else { throw XCTSkip("timed out waiting for \(what)") }
            usleep(200)
        }
    }

    func testSIGKILLMidEpochLeavesOnlyCompleteCheckpoints() throws {
        // Three kills: mid-epoch at two moments, and as soon as a checkpoint's temporary file appears.
        for (round, delay) in [(1, 0.05), (2, 0.13), (3, -1.0)].map({ ($0.0, $0.1) }) {
            let process = try startTraining()
            let before = Set(names().filter { $0.hasPrefix("epoch-") })
            try waitFor("a new checkpoint") { Set($0.filter { $0.hasPrefix("epoch-") }).subtracting(before).count >= 2 }
            if delay < 0 {
                try waitFor("a temporary file") { $0.contains { $0.contains(".relapse-tmp.") } }
            } else {
                usleep(useconds_t(delay * 1_000_000))
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, "round \(round)")

            let checkpoints = names().filter { $0.hasPrefix("epoch-") }.sorted()
            XCTAssertFalse(checkpoints.isEmpty)
            for name in checkpoints {
                XCTAssertTrue(name.range(of: #"^epoch-\d{4}\.h5$"#, options: .regularExpression) != nil, "only complete names: \(name)")
                let model = try KerasModel.load(directory + "/" + name)
                XCTAssertNotNil(model.optimizerState, name)
                XCTAssertTrue(model.relapseState?.contains("\"epoch\":\(Int(name.dropFirst(6).prefix(4))!),") ?? false, name)
            }
            for name in names() where name.contains(".relapse-tmp.") {
                XCTAssertTrue(name.contains(".relapse-tmp.\(process.processIdentifier)."), "only the killed writer's temporary file: \(name)")
            }
        }
        // Resuming the newest checkpoint in its folder works and removes the killed writers'
        // temporary files; the lock the last one held went with it.
        let newest = names().filter { $0.hasPrefix("epoch-") }.sorted().last!
        let resumed = try Relapse.run(["resume", directory + "/" + newest, "--epochs", "1", "--checkpoints", directory])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(names().filter { $0.contains(".relapse-tmp.") }, [])
    }

    func testLeftoverTemporaryFilesOfDeadWritersAreRemoved() throws {
        let trained = try Relapse.run(["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                                       "--epochs", "1", "--checkpoints", directory])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        // Relapse's mark with a pid that cannot be alive (beyond pid_max): removed. The same
        // with this test's own pid (alive), files without the mark (the old `.tmp-PID` form
        // included) and a malformed suffix: left alone, the sweep deletes only its own.
        let dead = ".epoch-0003.h5.relapse-tmp.999999999.abcdeABCDE"
        let kept = [".best.h5.relapse-tmp.\(getpid()).abcdeABCDE", ".epoch-0003.h5.tmp-999999999", ".notes.tmp-x",
                    ".x.h5.relapse-tmp.999999999.short"]
        for name in [dead] + kept {
            FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("partial".utf8))
        }
        let result = try Relapse.run(["resume", directory + "/epoch-0001.h5", "--epochs", "1", "--checkpoints", directory])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(names().filter { $0.hasPrefix(".") && $0 != ".relapse.lock" }.sorted(), kept.sorted())
    }
}
