import Foundation
import HDF5
import KerasFile
import XCTest

final class TrainResumeCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testTrainThenResumeNumbersEpochsAfterTheCheckpoint() throws {
        let train = try Relapse.run(["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"),
                                     "--epochs", "2", "--batch-size", "64", "--checkpoints", directory])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("epoch 1:"), "plain per-epoch lines when not a terminal: \(train.stdout)")
        XCTAssertNotNil(train.stdout.range(of: #"\d+ images/s"#, options: .regularExpression), train.stdout)

        let resume = try Relapse.run(["resume", directory + "/epoch-0002.h5", "--epochs", "2", "--epsilon", "0.001"])
        XCTAssertEqual(resume.status, 0, resume.stderr)
        XCTAssertTrue(resume.stdout.contains("changed from epoch 3: epsilon 1e-07 -> 0.001"), resume.stdout)
        // A branch: a new folder beside the checkpoint, the run it came from untouched.
        let branch = directory + "/from-0002-eps0.001"
        XCTAssertTrue(resume.stdout.contains("branch: epochs 3 to 4 go to \(branch)"), resume.stdout)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(files, [".relapse.lock", "best.h5", "epoch-0001.h5", "epoch-0002.h5", "from-0002-eps0.001", "history.csv"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: branch).filter { $0 != "best.h5" }.sorted(),
                       [".relapse.lock", "branch.json", "epoch-0003.h5", "epoch-0004.h5", "history.csv"])
        let history = try String(contentsOfFile: branch + "/history.csv", encoding: .utf8)
        XCTAssertEqual(history.split(separator: "\n").count, 5, "header and four epochs, two of them the parent's: \(history)")
        XCTAssertEqual(try KerasModel.load(branch + "/epoch-0004.h5").optimizerState?.iterations, 16)
    }

    /// A nested model's `.keras` checkpoints (fixtures/keras3-nested.keras: a Sequential holding
    /// a functional model, called twice) continue exactly: 2 epochs, or 1 then 1 more from the
    /// checkpoint, give the same weights at the saving library's nested paths, the same
    /// optimizer state and the same run state.
    func testNestedKerasCheckpointsResumeBitForBit() throws {
        let data = directory + "/d6.h5"
        do {
            let file = try File.create(data)
            let x: [Float] = (0..<192).map { (i: Int) -> Float in Float((i * 37) % 23) / 11 - 1 }
            // One-hot labels: sample s is class (s / 3) % 2.
            let y: [Float] = (0..<64).map { (i: Int) -> Float in i % 2 == ((i / 2) / 3) % 2 ? 1 : 0 }
            try file.root.createDataset("x", values: NumericArray(shape: [32, 6], floats: x))
            try file.root.createDataset("y", values: NumericArray(shape: [32, 2], floats: y))
            try file.flush()
        }
        let start = Relapse.fixture("keras3-nested.keras")
        let common = ["--data", data, "--batch-size", "16"]
        let two = try Relapse.run(["resume", start, "--epochs", "2", "--checkpoints", directory + "/two"] + common)
        XCTAssertEqual(two.status, 0, two.stderr)
        let one = try Relapse.run(["resume", start, "--epochs", "1", "--checkpoints", directory + "/one"] + common)
        XCTAssertEqual(one.status, 0, one.stderr)
        let more = try Relapse.run(["resume", directory + "/one/epoch-0001.keras", "--epochs", "1", "--checkpoints", directory + "/one"])
        XCTAssertEqual(more.status, 0, more.stderr)
        let a = try KerasModel.load(directory + "/two/epoch-0002.keras"), b = try KerasModel.load(directory + "/one/epoch-0002.keras")
        XCTAssertEqual(a.format, .keras)
        XCTAssertEqual(a.layerWeights, b.layerWeights)
        XCTAssertEqual(a.optimizerState, b.optimizerState)
        XCTAssertEqual(a.optimizerState?.iterations, 6, "2 steps in the fixture, 2 per epoch here")
        XCTAssertEqual(a.relapseState, b.relapseState)
        XCTAssertNotEqual(a.weightsByLayer["inner_in"], try KerasModel.load(start).weightsByLayer["inner_in"], "the nested model's layers trained")
    }

    func testMakeDataThenPredict() throws {
        let data = directory + "/lines.h5"
        XCTAssertEqual(try Relapse.run(["make-data", "--synthetic", "6", "--out", data]).status, 0)
        let out = directory + "/pred.h5"
        let predict = try Relapse.run(["predict", Relapse.fixture("broken-lines-start.h5"), "--data", data, "--out", out])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }

    func testInspectNamesTheLossSemanticsAndWarns() throws {
        let result = try Relapse.run(["inspect", Relapse.fixture("keras22-adam.h5")])
        XCTAssertTrue(result.stdout.contains("binary_crossentropy with keras2.2 semantics"), result.stdout)
        XCTAssertTrue(result.stdout.contains("warning: binary_crossentropy after softmax is a different function"), result.stdout)
        let mse = try Relapse.run(["inspect", Relapse.fixture("train-start-adam-mse.h5")])
        XCTAssertFalse(mse.stdout.contains("warning"), mse.stdout)
    }
}
