import Foundation
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
