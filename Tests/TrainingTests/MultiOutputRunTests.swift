import Foundation
import HDF5
import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// Runs of a model with two inputs and three outputs (one without a loss), its losses as a file's
/// training_config gives them: data by name, history per output, checkpoints that keep the
/// loss entry, resume bit for bit, `--loss` for every output, refusals by name.
final class MultiOutputRunTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relapse-mio-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    static let modelConfig = #"""
        {"class_name": "Functional", "config": {"name": "mio", "layers": [
          {"class_name": "InputLayer", "name": "img", "config": {"name": "img", "batch_input_shape": [null, 4]}, "inbound_nodes": []},
          {"class_name": "InputLayer", "name": "vec", "config": {"name": "vec", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "h", "config": {"name": "h", "units": 6, "activation": "relu"}, "inbound_nodes": [[["img", 0, 0, {}]]]},
          {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["h", 0, 0, {}], ["vec", 0, 0, {}]]]},
          {"class_name": "Dropout", "name": "drop", "config": {"name": "drop", "rate": 0.2}, "inbound_nodes": [[["cat", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "cls", "config": {"name": "cls", "units": 3, "activation": "softmax"}, "inbound_nodes": [[["drop", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "reg", "config": {"name": "reg", "units": 2}, "inbound_nodes": [[["drop", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "aux", "config": {"name": "aux", "units": 1}, "inbound_nodes": [[["h", 0, 0, {}]]]}],
         "input_layers": [["img", 0, 0], ["vec", 0, 0]], "output_layers": [["cls", 0, 0], ["reg", 0, 0], ["aux", 0, 0]]}}
        """#

    /// The model with fresh weights and `trainingConfig`, as tf-keras `version` would write it.
    func writeModel(trainingConfig: String, version: String = "2.15.0") throws -> String {
        let definition = try ModelConfigParser.parse(Self.modelConfig)
        let network = try Network(definition: definition, initializerSeed: 5)
        let weights = network.weightsByLayer
        let groups = definition.layers.map { layer in
            LayerWeights(layerName: layer.name, weights: zip(layer.weightNames, weights[layer.name] ?? []).map {
                NamedArray(name: "\(layer.name)/\($0):0", values: NumericArray($1))
            })
        }
        let file = KerasModelFile(kerasVersion: version, backend: "tensorflow", modelConfigJSON: Self.modelConfig,
                                  trainingConfigJSON: trainingConfig, layerWeights: groups, optimizerWeights: nil)
        let path = directory + "/model-\(UUID().uuidString.prefix(8)).h5"
        try KerasModel(file: file).write(to: path)
        return path
    }

    static let fileLoss = #"""
        {"loss": {"cls": "categorical_crossentropy", "reg": "mse"}, "loss_weights": {"cls": 1.0, "reg": 0.5},
         "metrics": null, "weighted_metrics": null,
         "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false, "is_legacy_optimizer": false}}}
        """#

    /// 40 samples: img, vec, cls (one-hot), reg, and an `extra` dataset no one reads.
    func writeData(count: Int = 40, vecCount: Int? = nil) throws -> String {
        var g = SeededGenerator(seed: 3)
        let path = directory + "/data-\(UUID().uuidString.prefix(8)).h5"
        let file = try File.create(path)
        func put(_ name: String, _ shape: [Int], _ values: [Float]) throws {
            try file.root.createDataset(name, values: NumericArray(shape: shape, floats: values))
        }
        try put("img", [count, 4], (0..<(count * 4)).map { _ in g.nextUnitFloat() })
        let v = vecCount ?? count
        try put("vec", [v, 3], (0..<(v * 3)).map { _ in g.nextUnitFloat() - 0.5 })
        try put("cls", [count, 3], (0..<count).flatMap { i in (0..<3).map { Float($0 == i % 3 ? 1 : 0) } })
        try put("reg", [count, 2], (0..<(count * 2)).map { _ in g.nextUnitFloat() })
        try put("extra", [2], [0, 0])
        try file.flush()
        return path
    }

    func options(_ data: String) -> TrainingOptions {
        var options = TrainingOptions()
        options.data = .hdf5(path: data)
        options.batchSize = 8
        options.seed = 11
        return options
    }

    func arrays(_ path: String) throws -> ([LayerWeights], KerasFile.OptimizerState?) {
        let model = try KerasModel.load(path)
        return (model.layerWeights, model.optimizerState)
    }

    func testTrainsResumesAndKeepsTheLossEntry() throws {
        let model = try writeModel(trainingConfig: Self.fileLoss)
        let data = try writeData()
        let straight = try RunSetup.start(modelPath: model, options: options(data))
        XCTAssertEqual(straight.trainer.losses.targetOutputs, [0, 1])
        _ = try straight.run(epochs: 3, directory: directory + "/straight", shouldStop: { false })
        let split = try RunSetup.start(modelPath: model, options: options(data))
        _ = try split.run(epochs: 1, directory: directory + "/split", shouldStop: { false })
        _ = try RunSetup.resume(checkpointPath: directory + "/split/epoch-0001.h5", options: TrainingOptions())
            .run(epochs: 2, directory: directory + "/split", shouldStop: { false })
        let a = try arrays(directory + "/straight/epoch-0003.h5"), b = try arrays(directory + "/split/epoch-0003.h5")
        XCTAssertEqual(a.0, b.0, "weights bit for bit")
        XCTAssertEqual(a.1, b.1, "optimizer state bit for bit")
        let history = try String(contentsOfFile: directory + "/straight/history.csv", encoding: .utf8)
        XCTAssertEqual(history, try String(contentsOfFile: directory + "/split/history.csv", encoding: .utf8))
        let header = history.split(separator: "\n")[0].split(separator: ",").map(String.init)
        XCTAssertTrue(Set(header).isSuperset(of: ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_accuracy"]), "\(header)")
        XCTAssertFalse(header.contains("aux_loss") || header.contains("accuracy"), "\(header)")
        // aux has no loss: its weights never move; the checkpoint keeps the file's loss entry.
        let start = try KerasModel.load(model)
        XCTAssertEqual(start.layerWeights.first { $0.layerName == "aux" }, a.0.first { $0.layerName == "aux" })
        XCTAssertNotEqual(start.layerWeights.first { $0.layerName == "reg" }, a.0.first { $0.layerName == "reg" })
        let config = try KerasModel.load(directory + "/straight/epoch-0003.h5").trainingConfig!.json
        XCTAssertEqual(config["loss"], try JSONValue.parse(#"{"cls": "categorical_crossentropy", "reg": "mse"}"#))
        XCTAssertEqual(config["loss_weights"], try JSONValue.parse(#"{"cls": 1.0, "reg": 0.5}"#))
    }

    /// One history row's per-output losses against the total: loss = cls_loss + 0.5 reg_loss
    /// (no regularizers), with Keras 3's names (only with two losses) and validation.
    func testHistoryTotalsAndValidation() throws {
        var opts = options(try writeData())
        opts.validationSplit = 0.25
        // Keras 3 wants every output named in a loss dict (refused by name, as Keras 3's fit
        // refuses it), so its file lists them.
        XCTAssertThrowsError(try RunSetup.start(modelPath: try writeModel(trainingConfig: Self.fileLoss, version: "3.4.1"), options: opts)) {
            XCTAssertTrue("\($0)".contains("(Keras 3 needs every output's name in a loss dict; 'aux' is missing)"), "\($0)")
        }
        let keras3Loss = #"{"loss": ["categorical_crossentropy", "mse", null], "loss_weights": [1.0, 0.5, 1.0], "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.01}}}"#
        let run = try RunSetup.start(modelPath: try writeModel(trainingConfig: keras3Loss, version: "3.4.1"), options: opts)
        XCTAssertEqual(run.training.count, 30)
        _ = try run.run(epochs: 1, directory: directory + "/run", shouldStop: { false })
        let row = run.state.history[0].values
        XCTAssertEqual(row["loss"]!, row["cls_loss"]! + 0.5 * row["reg_loss"]!, accuracy: 1e-6)
        XCTAssertEqual(row["val_loss"]!, row["val_cls_loss"]! + 0.5 * row["val_reg_loss"]!, accuracy: 1e-6)
        XCTAssertNotNil(row["val_cls_accuracy"])
        let oneLoss = #"{"loss": ["mse", null, null], "optimizer_config": {"class_name": "SGD", "config": {"learning_rate": 0.1}}}"#
        let keras3 = try RunSetup.start(modelPath: try writeModel(trainingConfig: oneLoss, version: "3.4.1"), options: options(try writeData()))
        _ = try keras3.run(epochs: 1, directory: directory + "/k3", shouldStop: { false })
        XCTAssertNil(keras3.state.history[0].values["cls_loss"], "Keras 3 reports per-output losses only for two or more")
        XCTAssertNotNil(keras3.state.history[0].values["cls_accuracy"])
    }

    /// `--loss` gives every output that loss with its own weight; the checkpoint says so in lists.
    func testLossFlagForEveryOutput() throws {
        var opts = options(try writeData())
        opts.loss = "mae"
        let model = try writeModel(trainingConfig: #"{"loss": ["categorical_crossentropy", "mse", null], "loss_weights": [1, 0.5, 2], "optimizer_config": {"class_name": "SGD", "config": {"learning_rate": 0.1}}}"#)
        XCTAssertThrowsError(try RunSetup.start(modelPath: model, options: opts)) {
            XCTAssertTrue("\($0)".contains("has no dataset 'aux' for the model's output 'aux'"), "\($0)")
        }
        let data = directory + "/all.h5"
        try FileManager.default.copyItem(atPath: try writeData(), toPath: data)
        let file = try File.open(data, writable: true)
        try file.root.createDataset("aux", values: NumericArray(shape: [40, 1], floats: Array(repeating: 0.5, count: 40)))
        try file.flush()
        opts.data = .hdf5(path: data)
        let run = try RunSetup.start(modelPath: model, options: opts)
        XCTAssertEqual(run.trainer.losses.description,
                       "cls: mean_absolute_error, reg: mean_absolute_error x 0.5, aux: mean_absolute_error x 2.0")
        _ = try run.run(epochs: 1, directory: directory + "/flag", shouldStop: { false })
        let config = try KerasModel.load(directory + "/flag/epoch-0001.h5").trainingConfig!.json
        XCTAssertEqual(config["loss"], try JSONValue.parse(#"["mean_absolute_error", "mean_absolute_error", "mean_absolute_error"]"#))
        XCTAssertEqual(config["loss_weights"], try JSONValue.parse("[1.0, 0.5, 2.0]"))
        // Read back as the same losses, so a resume changes nothing.
        let resumed = try RunSetup.resume(checkpointPath: directory + "/flag/epoch-0001.h5", options: TrainingOptions())
        XCTAssertEqual(resumed.trainer.losses, run.trainer.losses)
        XCTAssertEqual(resumed.state.changes, [])
    }

    func testRefusalsAndDataMismatchesNameTheProblem() throws {
        let none = #"{"loss": ["mse", {"class_name": "MeanSquaredError", "config": {"reduction": "none"}}, null], "optimizer_config": {"class_name": "SGD", "config": {}}}"#
        XCTAssertThrowsError(try RunSetup.start(modelPath: try writeModel(trainingConfig: none), options: options(try writeData()))) {
            XCTAssertTrue("\($0)".hasSuffix(#"loss 'reg': reduction = "none" is not supported beside the losses of other outputs"#), "\($0)")
        }
        let short = try writeData(vecCount: 39)
        XCTAssertThrowsError(try RunSetup.start(modelPath: try writeModel(trainingConfig: Self.fileLoss), options: options(short))) {
            XCTAssertEqual("\($0)", "\(short): vec has 39 samples but img has 40")
        }
        var synthetic = TrainingOptions()
        synthetic.data = .synthetic(count: 8, seed: 0)
        XCTAssertThrowsError(try RunSetup.start(modelPath: try writeModel(trainingConfig: Self.fileLoss), options: synthetic)) {
            XCTAssertTrue("\($0)".contains("but the model has inputs 'img', 'vec' and targets 'cls', 'reg'"), "\($0)")
        }
    }
}
