import Foundation
import HDF5
import KerasFile
import XCTest

/// A `.keras` write makes no file the signal handlers do not know: the HDF5 member is a marked
/// scratch file beside the output and the archive goes straight into the output's temporary
/// (libzip, left to itself, writes its own `<name>.XXXXXX` during `zip_close`).
final class KerasArchiveSignalTests: XCTestCase {
    var directory = ""
    var scratch = ""

    override func setUpWithError() throws {
        directory = try Relapse.temporaryDirectory()
        scratch = try Relapse.temporaryDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func names(_ folder: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

    func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }

    /// A Keras 3 model with 12.6 MB of weights, so that each phase of a write takes a while.
    func makeLargeModel() throws -> String {
        let config = #"{"class_name": "Sequential", "config": {"name": "big", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 1536]}}, "#
            + #"{"class_name": "Dense", "config": {"name": "wide", "units": 2048}}]}}"#
        let kernel = NumericArray(shape: [1536, 2048], floats: (0..<(1536 * 2048)).map { Float($0 % 977) / 977 })
        let file = KerasModelFile(kerasVersion: "3.15.1", backend: "tensorflow", modelConfigJSON: config, trainingConfigJSON: nil,
                                  layerWeights: [LayerWeights(layerName: "wide", weights: [
                                      NamedArray(name: "wide/kernel", values: kernel),
                                      NamedArray(name: "wide/bias", values: NumericArray(shape: [2048], floats: Array(repeating: 0, count: 2048))),
                                  ])], optimizerWeights: nil)
        let path = directory + "/big.h5"
        try file.write(to: path)
        return path
    }

    /// Runs `arguments` with TMPDIR at the scratch folder, sends `signal` once `ready` holds,
    /// and returns the process, or nil when it ended first.
    func signal(_ signal: Int32, _ arguments: [String], when ready: () -> Bool) throws -> Process? {
        guard FileManager.default.isExecutableFile(atPath: Relapse.executable.path) else { throw XCTSkip("relapse is not built") }
        let process = Process()
        process.executableURL = Relapse.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": scratch]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !ready() {
            guard process.isRunning, Date() < deadline else {
                process.waitUntilExit()
                return nil
            }
            usleep(50)
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process
    }

    func testSignalsDuringAKerasWriteOrReadLeaveNothingBehind() throws {
        let model = try makeLargeModel()
        let out = directory + "/out.keras"
        let before = names(directory)
        // Writing: while the HDF5 member is written, and once zip_close writes the archive.
        let phases: [(String, () -> Bool)] = [
            ("the HDF5 member", { self.names(self.directory).contains { $0.hasPrefix(".out.keras.weights.h5.relapse-tmp.") } }),
            ("zip_close", { self.names(self.directory).contains { $0.hasPrefix(".out.keras.relapse-tmp.") && self.size(self.directory + "/" + $0) > 0 } }),
        ]
        var caught: [String] = []
        for (phase, ready) in phases {
            for number in [SIGINT, SIGTERM] {
                for _ in 0..<5 {
                    guard let process = try signal(number, ["resave", model, out], when: ready) else {
                        try? FileManager.default.removeItem(atPath: out)
                        continue
                    }
                    XCTAssertEqual(process.terminationReason, .uncaughtSignal, "\(phase), signal \(number)")
                    XCTAssertEqual(process.terminationStatus, number, "\(phase)")
                    XCTAssertEqual(names(directory), before, "\(phase), signal \(number): the folder as it was")
                    XCTAssertEqual(names(scratch), [], "\(phase), signal \(number): nothing in TMPDIR")
                    caught.append(phase)
                    break
                }
            }
        }
        // Reading: while the archive's HDF5 member is copied to a scratch file in TMPDIR.
        let written = try Relapse.run(["resave", model, out])
        XCTAssertEqual(written.status, 0, written.stderr)
        for number in [SIGINT, SIGTERM] {
            for _ in 0..<5 {
                guard let process = try signal(number, ["inspect", out], when: { !self.names(self.scratch).isEmpty }) else { continue }
                XCTAssertEqual(process.terminationStatus, number)
                XCTAssertEqual(names(scratch), [], "reading, signal \(number): nothing in TMPDIR")
                caught.append("reading")
                break
            }
        }
        XCTAssertEqual(names(scratch), [])
        if caught.isEmpty { throw XCTSkip("every command finished before a signal could land") }
        XCTAssertTrue(caught.contains("zip_close"), "a signal landed in zip_close: \(caught)")
    }
}
