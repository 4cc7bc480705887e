import Foundation
import XCTest

/// Issue 16: what Relapse writes. Only regular files are replaced (a FIFO or device at the
/// output is refused, not replaced), a replaced file keeps its mode, SIGINT/SIGTERM never leave
/// a temporary file, and progress lines reach a file or pipe as they are printed.
final class OutputTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func temporaries() -> [String] {
        let all = FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []
        return all.filter { ($0 as NSString).lastPathComponent.contains(".relapse-tmp.") }
    }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0, path)
        return info.st_mode
    }

    func assertRefused(_ arguments: [String], names path: String, says phrase: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try Relapse.run(arguments)
        XCTAssertEqual(result.status, 2, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("relapse: error: \(path): "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(phrase), result.stderr, file: file, line: line)
        XCTAssertEqual(temporaries(), [], "no temporary file", file: file, line: line)
    }

    func testFIFOsAndDevicesAsOutputsAreRefusedNotReplaced() throws {
        let fifo = directory + "/out.h5"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try assertRefused(["resave", Relapse.fixture("tfk-adam-trained.h5"), fifo], names: fifo, says: "it is a FIFO, not a regular file")
        try assertRefused(["make-data", "--synthetic", "4", "--out", fifo], names: fifo, says: "it is a FIFO, not a regular file")
        XCTAssertEqual(mode(fifo) & S_IFMT, S_IFIFO, "still a FIFO")
        try assertRefused(["make-data", "--synthetic", "4", "--out", "/dev/null"], names: "/dev/null",
                          says: "it is a character device, not a regular file")
        XCTAssertEqual(mode("/dev/null") & S_IFMT, S_IFCHR, "still a device")
        let folder = directory + "/folder.h5"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try assertRefused(["resave", Relapse.fixture("tfk-adam-trained.h5"), folder], names: folder, says: "it is a folder")
    }

    func testAReplacedFileKeepsItsModeAndANewOneFollowsTheUmask() throws {
        let out = directory + "/out.h5"
        XCTAssertEqual(try Relapse.run(["resave", Relapse.fixture("tfk-adam-trained.h5"), out]).status, 0)
        let mask = umask(0o022)
        umask(mask)
        XCTAssertEqual(mode(out) & 0o777, 0o666 & ~mask, "a new file: 666 less the umask")
        chmod(out, 0o600)
        XCTAssertEqual(try Relapse.run(["resave", Relapse.fixture("tfk-rmsprop-trained.h5"), out]).status, 0)
        XCTAssertEqual(mode(out) & 0o777, 0o600, "replacing a mode-600 file keeps 600")
        // A symbolic link at the output is replaced by the file; its target is not touched.
        let target = directory + "/target.txt"
        try "keep".write(toFile: target, atomically: true, encoding: .utf8)
        let link = directory + "/link.h5"
        XCTAssertEqual(symlink(target, link), 0)
        XCTAssertEqual(try Relapse.run(["resave", Relapse.fixture("tfk-adam-trained.h5"), link]).status, 0)
        XCTAssertEqual(mode(link) & S_IFMT, S_IFREG)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "keep")
    }

    /// Starts `arguments`, waits for a temporary file under the test folder, sends `signal`.
    /// Returns nil when the command finished before a temporary file was seen.
    func signalDuringWrite(_ arguments: [String], _ signal: Int32) throws -> Process? {
        guard FileManager.default.isExecutableFile(atPath: Relapse.executable.path) else { throw XCTSkip("relapse is not built") }
        let process = Process()
        process.executableURL = Relapse.executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while temporaries().isEmpty {
            guard process.isRunning, Date() < deadline else {
                process.waitUntilExit()
                return nil
            }
            usleep(100)
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process
    }

    func testSIGINTAndSIGTERMDuringAWriteLeaveNoTemporaryFile() throws {
        let out = directory + "/data.h5"
        var caught = 0
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            for _ in 0..<5 {
                try? FileManager.default.removeItem(atPath: out)
                guard let process = try signalDuringWrite(["make-data", "--synthetic", "30000", "--out", out], signal) else { continue }
                XCTAssertEqual(process.terminationReason, .uncaughtSignal, "died of signal \(signal)")
                XCTAssertEqual(process.terminationStatus, signal)
                XCTAssertEqual(temporaries(), [], "signal \(signal): the temporary file was removed")
                XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output")
                caught += 1
                break
            }
        }
        // A checkpoint write in a run: SIGTERM (an ordinary `kill`) removes its temporary file.
        let run = directory + "/run"
        for _ in 0..<5 {
            try? FileManager.default.removeItem(atPath: run)
            guard let process = try signalDuringWrite(
                ["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                 "--epochs", "200", "--checkpoints", run], SIGTERM) else { continue }
            XCTAssertEqual(process.terminationStatus, SIGTERM)
            XCTAssertEqual(temporaries(), [], "the checkpoint's temporary file was removed")
            caught += 1
            break
        }
        if caught == 0 { throw XCTSkip("every write finished before a signal could land") }
    }

    /// Progress reaches a file line by line: killed after its third checkpoint, a run's log
    /// already holds the lines of the epochs before (block buffering held them all back).
    func testProgressLinesReachAFileAsTheyArePrinted() throws {
        guard FileManager.default.isExecutableFile(atPath: Relapse.executable.path) else { throw XCTSkip("relapse is not built") }
        let log = directory + "/log.txt"
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = Relapse.executable
        process.arguments = ["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                             "--epochs", "500", "--checkpoints", directory + "/run"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: directory + "/run/epoch-0003.h5") {
            guard process.isRunning, Date() < deadline else { throw XCTSkip("no third checkpoint") }
            usleep(1000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(text.contains("epoch 1: ") && text.contains("epoch 2: "), "lines written as printed: \(text)")
    }
}
