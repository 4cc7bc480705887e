import Foundation
import HDF5
import KerasFile
import XCTest

/// A Keras 3 file whose channels_first convolution's output is as wide as it has channels is
/// refused (Keras 3.7+ on TensorFlow adds that bias along the width: `Keras3BiasAxis`): one line
/// naming the file and the layer, exit status 2, nothing written; `inspect` lists it. The same
/// model with another width, from tf-keras, or saved on another backend, predicts.
final class Keras3BiasAxisCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Input(3, 6, width) -> Conv2D(8, 3x3, channels_first) -> Flatten, written as a legacy .h5
    /// by `kerasVersion` on `backend` (or as .keras, which records no backend). Output (8, 4, width - 2).
    func writeModel(_ name: String, width: Int, kerasVersion: String, backend: String? = "tensorflow") throws -> String {
        let config = #"{"class_name": "Sequential", "config": {"name": "m", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 3, 6, \#(width)]}}, "#
            + #"{"class_name": "Conv2D", "config": {"name": "conv2d_1", "filters": 8, "kernel_size": [3, 3], "data_format": "channels_first"}}, "#
            + #"{"class_name": "Flatten", "config": {"name": "flatten"}}]}}"#
        let kernel = NumericArray(shape: [3, 3, 3, 8], floats: (0..<216).map { Float($0 % 13) / 13 - 0.5 })
        let bias = NumericArray(shape: [8], floats: (0..<8).map { Float($0) / 8 })
        let file = KerasModelFile(kerasVersion: kerasVersion, backend: backend, modelConfigJSON: config, trainingConfigJSON: nil,
                                  layerWeights: [LayerWeights(layerName: "conv2d_1", weights: [
                                      NamedArray(name: "conv2d_1/kernel", values: kernel), NamedArray(name: "conv2d_1/bias", values: bias),
                                  ]), LayerWeights(layerName: "flatten", weights: [])], optimizerWeights: nil)
        let h5 = directory + "/" + name + ".h5"
        try file.write(to: h5)
        guard name.hasSuffix("keras") else { return h5 }
        let archive = directory + "/" + name + ".keras"
        try KerasModel(file: file).write(to: archive)
        return archive
    }

    func writeData(width: Int) throws -> String {
        let path = directory + "/data-\(width).h5"
        let file = try HDF5.File.create(path)
        try file.root.createDataset("x", values: NumericArray(shape: [4, 3, 6, width], floats: (0..<(72 * width)).map { Float($0 % 7) / 7 }))
        try file.flush()
        return path
    }

    func predict(_ model: String, width: Int) throws -> (CommandResult, String) {
        let out = directory + "/pred-\(UUID().uuidString.prefix(8)).h5"
        return (try Relapse.run(["predict", model, "--data", try writeData(width: width), "--out", out]), out)
    }

    func testKeras3ChannelsFirstBiasAlongTheWidthIsRefusedByLayer() throws {
        let expected = #"layer 'conv2d_1' (Conv2D): data_format = "channels_first" with 8 output channels and an output width of 8: Keras 3.15.1 on the TensorFlow backend adds this bias along the last axis (the width), not the channels"#
        for (model, recorded) in [(try writeModel("k3", width: 10, kerasVersion: "3.15.1"), true),
                                  (try writeModel("k3-keras", width: 10, kerasVersion: "3.15.1"), false)] {
            let (result, out) = try predict(model, width: 10)
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("relapse: error: \(model): \(expected)"), result.stderr)
            XCTAssertEqual(result.stderr.contains("does not record its backend"), !recorded, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))

            let run = directory + "/run"
            let train = try Relapse.run(["train", model, "--synthetic", "8", "--epochs", "1", "--checkpoints", run])
            XCTAssertEqual(train.status, 2, train.stderr)
            XCTAssertTrue(train.stderr.hasPrefix("relapse: error: \(model): \(expected)"), train.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: run))

            // inspect lists it with the file's other refusals, and still shows the layers.
            let inspect = try Relapse.run(["inspect", model])
            XCTAssertEqual(inspect.status, 0, inspect.stderr)
            XCTAssertTrue(inspect.stdout.contains("  - \(expected)"), inspect.stdout)
            XCTAssertTrue(inspect.stdout.contains("(8, 4, 8)"), inspect.stdout)
        }
    }

    /// convert refuses to make such a tf-keras model a Keras 3 one (Keras 3 would add the bias
    /// along the width); kept for tf-keras, it converts.
    func testConvertRefusesToMakeAKeras3ModelThatAddsTheBiasAlongTheWidth() throws {
        let model = try writeModel("tfk", width: 10, kerasVersion: "2.21.0")
        for (output, dialect) in [(directory + "/out.keras", [String]()), (directory + "/out.h5", ["--dialect", "keras3"])] {
            let result = try Relapse.run(["convert", model, output] + dialect)
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr, "relapse: error: \(model): layer 'conv2d_1' (Conv2D): data_format = \"channels_first\" with 8 output channels and an output width of 8: Keras 3.15.1 on the TensorFlow backend adds this bias along the last axis (the width), not the channels, when the two sizes are equal; tf.keras 2.21.0 adds it along the channels, so the converted model would compute something else\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        }
        let kept = directory + "/kept.keras"
        XCTAssertEqual(try Relapse.run(["convert", model, kept, "--dialect", "tf-keras"]).status, 0)
        XCTAssertEqual(try Relapse.run(["convert", try writeModel("tfk-narrow", width: 7, kerasVersion: "2.21.0"), directory + "/narrow.keras"]).status, 0)
    }

    func testAnotherWidthTFKerasAndOtherBackendsPredict() throws {
        for (model, width) in [(try writeModel("k3-narrow", width: 7, kerasVersion: "3.15.1"), 7),
                               (try writeModel("k3-narrow-keras", width: 7, kerasVersion: "3.15.1"), 7),
                               (try writeModel("tfk", width: 10, kerasVersion: "2.21.0"), 10),
                               (try writeModel("k3-jax", width: 10, kerasVersion: "3.15.1", backend: "jax"), 10),
                               (try writeModel("k3-torch", width: 10, kerasVersion: "3.15.1", backend: "torch"), 10),
                               (try writeModel("k36", width: 10, kerasVersion: "3.6.0"), 10)] {
            let (result, out) = try predict(model, width: width)
            XCTAssertEqual(result.status, 0, "\(model): \(result.stderr)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: out), model)
        }
    }
}
