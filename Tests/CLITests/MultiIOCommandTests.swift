import Foundation
import HDF5
import KerasFile
import XCTest

/// `train` and `predict` on a model with two inputs and two outputs, from the command line:
/// datasets named after the inputs and outputs, predictions written under the output names,
/// per-output losses in history.csv, bad data refused in one line with nothing written.
final class MultiIOCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// `model.to_json()` of tf-keras: inputs img (4) and vec (3), outputs cls (softmax 3) and reg (2).
    static let modelJSON = #"""
        {"class_name": "Functional", "keras_version": "2.15.0", "backend": "tensorflow", "config": {"name": "mio", "layers": [
          {"class_name": "InputLayer", "name": "img", "config": {"name": "img", "batch_input_shape": [null, 4], "dtype": "float32"}, "inbound_nodes": []},
          {"class_name": "InputLayer", "name": "vec", "config": {"name": "vec", "batch_input_shape": [null, 3], "dtype": "float32"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "h", "config": {"name": "h", "units": 5, "activation": "relu"}, "inbound_nodes": [[["img", 0, 0, {}]]]},
          {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["h", 0, 0, {}], ["vec", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "cls", "config": {"name": "cls", "units": 3, "activation": "softmax"}, "inbound_nodes": [[["cat", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "reg", "config": {"name": "reg", "units": 2}, "inbound_nodes": [[["cat", 0, 0, {}]]]}],
         "input_layers": [["img", 0, 0], ["vec", 0, 0]], "output_layers": [["cls", 0, 0], ["reg", 0, 0]]}}
        """#

    func writeData(_ name: String, skip: String? = nil, count: Int = 20) throws -> String {
        let path = directory + "/" + name
        let file = try HDF5.File.create(path)
        let shapes = [("img", [count, 4]), ("vec", [count, 3]), ("cls", [count, 3]), ("reg", [count, 2])]
        for (dataset, shape) in shapes where dataset != skip {
            let n = shape.reduce(1, *)
            var values = (0..<n).map { (i: Int) -> Float in Float((i * 7919) % 97) / 97 }
            if dataset == "cls" { values = (0..<n).map { (i: Int) -> Float in i % 3 == (i / 3) % 3 ? 1 : 0 } }
            try file.root.createDataset(dataset, values: NumericArray(shape: shape, floats: values))
        }
        try file.flush()
        return path
    }

    func testTrainAndPredictByName() throws {
        let model = directory + "/model.json"
        try Self.modelJSON.write(toFile: model, atomically: true, encoding: .utf8)
        let data = try writeData("data.h5")
        let run = directory + "/run"
        let train = try Relapse.run(["train", model, "--loss", "mse", "--optimizer", "sgd", "--data", data,
                                     "--epochs", "1", "--batch-size", "8", "--checkpoints", run])
        XCTAssertEqual(train.status, 0, train.stderr)
        // Keras's progress line: the loss, each output's, then the accuracies.
        XCTAssertNotNil(train.stdout.range(of: #"s - loss: [0-9.]+ - cls_loss: [0-9.]+ - reg_loss: [0-9.]+ - cls_accuracy: [0-9.]+ - reg_accuracy: "#,
                                           options: .regularExpression), train.stdout)
        let header = try String(contentsOfFile: run + "/history.csv", encoding: .utf8).split(separator: "\n")[0]
        XCTAssertTrue(header.hasPrefix("epoch,") && header.contains(",cls_accuracy,cls_loss,") && header.contains(",reg_loss,"), String(header))

        let out = directory + "/pred.h5"
        let predict = try Relapse.run(["predict", run + "/epoch-0001.h5", "--data", data, "--out", out])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let root = try HDF5.File.open(out).root
        XCTAssertEqual(try root.childNames().sorted(), ["cls", "reg"])
        XCTAssertEqual(try root.dataset("cls").read().shape, [20, 3])
        XCTAssertEqual(try root.dataset("reg").read().shape, [20, 2])
        let inspect = try Relapse.run(["inspect", run + "/epoch-0001.h5"])
        XCTAssertTrue(inspect.stdout.contains("loss cls: mean_squared_error, reg: mean_squared_error with tf.keras semantics"), inspect.stdout)

        // A missing input: one line naming the file and the dataset, exit 2, nothing written.
        let bad = try writeData("bad.h5", skip: "vec")
        let refused = try Relapse.run(["predict", run + "/epoch-0001.h5", "--data", bad, "--out", directory + "/none.h5"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "relapse: error: \(bad): has no dataset 'vec' for the model's input 'vec' (it holds: cls, img, reg)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/none.h5"))
        let short = try writeData("short.h5", skip: "reg")
        let noTarget = try Relapse.run(["train", run + "/epoch-0001.h5", "--data", short, "--epochs", "1", "--checkpoints", directory + "/run2"])
        XCTAssertEqual(noTarget.status, 2)
        XCTAssertEqual(noTarget.stderr, "relapse: error: \(short): has no dataset 'reg' for the model's output 'reg' (it holds: cls, img, vec)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/run2"))
    }
}
