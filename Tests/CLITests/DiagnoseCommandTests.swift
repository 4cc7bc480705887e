import Foundation
import HDF5
import KerasFile
import XCTest

/// `relapse diff`, `relapse scan` and `train --stop-on-nan` as a user runs them: exit status
/// 0 healthy, 1 NaN/Inf/explosion/jump, 2 unreadable.
final class DiagnoseCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func train(_ model: String, epochs: Int, into run: String, _ extra: [String] = []) throws -> CommandResult {
        try Relapse.run(["train", model, "--data", Relapse.fixture("train-data.h5"), "--epochs", String(epochs),
                         "--batch-size", "64", "--checkpoints", run] + extra)
    }

    func nanCopy(_ source: String, to destination: String) throws {
        var file = try KerasModelFile.read(source)
        let g = try XCTUnwrap(file.layerWeights.firstIndex { !$0.weights.isEmpty })
        let values = file.layerWeights[g].weights[0].values
        var floats = values.floats()
        floats[0] = .nan
        file.layerWeights[g].weights[0].values = NumericArray(shape: values.shape, floats: floats)
        try file.write(to: destination)
    }

    func testDiffExitStatuses() throws {
        let run = directory + "/run"
        XCTAssertEqual(try train(Relapse.fixture("train-start-adam.h5"), epochs: 2, into: run).status, 0)
        let healthy = try Relapse.run(["diff", run + "/epoch-0001.h5", run + "/epoch-0002.h5"])
        XCTAssertEqual(healthy.status, 0, healthy.stderr)
        XCTAssertTrue(healthy.stdout.contains("Verdict: ok"))

        try nanCopy(run + "/epoch-0002.h5", to: directory + "/bad.h5")
        let bad = try Relapse.run(["diff", run + "/epoch-0001.h5", directory + "/bad.h5", "--json"])
        XCTAssertEqual(bad.status, 1)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["verdict"] as? String, "nan")
        XCTAssertEqual((object["tensors"] as? [[String: Any]])?.first?["name"] as? String, "conv2d/kernel:0")

        let missing = try Relapse.run(["diff", run + "/epoch-0001.h5", directory + "/missing.h5"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stdout.isEmpty)
    }

    func testScanExitStatusesAndPlot() throws {
        let run = directory + "/run"
        XCTAssertEqual(try train(Relapse.fixture("train-start-adam.h5"), epochs: 2, into: run).status, 0)
        let plot = directory + "/run.svg"
        let healthy = try Relapse.run(["scan", run, "--plot", plot])
        XCTAssertEqual(healthy.status, 0, healthy.stderr)
        XCTAssertTrue(healthy.stdout.contains("Last healthy:     epoch 2"))
        XCTAssertTrue(try String(contentsOfFile: plot, encoding: .utf8).contains("<svg"))

        try nanCopy(run + "/epoch-0002.h5", to: run + "/epoch-0003.h5")
        let bad = try Relapse.run(["scan", run, "--json"])
        XCTAssertEqual(bad.status, 1)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["first_nan_epoch"] as? Int, 3)
        XCTAssertEqual(object["last_healthy_epoch"] as? Int, 2)

        let empty = directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let nothing = try Relapse.run(["scan", empty])
        XCTAssertEqual(nothing.status, 2)
        XCTAssertTrue(nothing.stderr.hasPrefix("relapse: error: no checkpoints in"), nothing.stderr)
    }

    func testStopOnNaNSaysWhereAndExitsOne() throws {
        let model = directory + "/nan.h5"
        try nanCopy(Relapse.fixture("train-start-adam.h5"), to: model)
        let result = try train(model, epochs: 3, into: directory + "/run", ["--stop-on-nan"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stdout.contains("first at epoch 1, batch 1; stopped after that batch"), result.stdout)
        XCTAssertTrue(result.stdout.contains("epoch-0001-nan-batch-0001.h5"), result.stdout)
        XCTAssertFalse(result.stdout.contains("interrupted"), result.stdout)
    }
}
