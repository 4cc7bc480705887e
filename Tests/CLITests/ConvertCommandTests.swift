import Foundation
import XCTest

/// `relapse convert` between formats and between the Keras generations' config dialects
/// (`--dialect tf-keras|keras3`; tools/keras3_formats.py has each Keras load the results).
final class ConvertCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func producer(_ path: String) throws -> String {
        let result = try Relapse.run(["inspect", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.split(separator: "\n").first { $0.hasPrefix("Producer:") }.map(String.init) ?? ""
    }

    func testConvertWritesTheDialectAsked() throws {
        let keras3 = Relapse.fixture("keras3-nested.keras"), tfk = Relapse.fixture("tfk-nested.keras")
        // .h5 keeps the input's Keras unless told otherwise.
        for (input, output, flags, expected) in [
            (keras3, "own.h5", [String](), "Keras 3.15.1"),
            (keras3, "tfk.h5", ["--dialect", "tf-keras"], "tf.keras 2.21.0"),
            (tfk, "tfk-own.h5", [], "tf.keras 2.21.0"),
            (tfk, "k3.h5", ["--dialect", "keras3"], "Keras 3.15.1"),
            (tfk, "k3.keras", [], "Keras 3.15.1"),
            (keras3, "tfk.keras", ["--dialect", "tf-keras"], "tf.keras 2.21.0"),
        ] {
            let path = directory + "/" + output
            let result = try Relapse.run(["convert", input, path] + flags)
            XCTAssertEqual(result.status, 0, "\(output): \(result.stderr)")
            let written = try producer(path)
            XCTAssertTrue(written.contains(expected), "\(output): \(written)")
            let inspect = try Relapse.run(["inspect", path]).stdout
            XCTAssertTrue(inspect.contains("Optimizer state: Adam, iterations 2, slots: m (10), v (10)"), "\(output): \(inspect)")
        }
    }

    func testAFileWithoutArchitectureIsRefusedADialect() throws {
        let output = directory + "/w.h5"
        let result = try Relapse.run(["convert", Relapse.fixture("keras3-adam.weights.h5"), output, "--dialect", "tf-keras"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("is a weights-only file; --dialect tf-keras needs an architecture to convert"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(try Relapse.run(["convert", Relapse.fixture("keras3-adam.keras"), output, "--dialect", "tf.keras"]).status, 64)
    }
}
