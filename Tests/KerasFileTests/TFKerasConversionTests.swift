import Foundation
import HDF5
@testable import KerasFile
import XCTest

/// `relapse convert --dialect tf-keras` (TFKerasConversion.swift): a Keras 3 model in tf-keras's
/// config dialect, nested models kept, every weight and optimizer slot carried over; what
/// tf-keras computes differently or not at all is refused by name. (tools/keras3_formats.py has
/// tf-keras itself load the results.)
final class TFKerasConversionTests: XCTestCase {
    func testANestedKeras3ModelBecomesATFKerasOneWithItsState() throws {
        let source = try KerasModel.load(Fixtures.path("keras3-nested.keras"))
        let converted = try source.convertedToTFKeras()
        XCTAssertEqual(converted.producer, .tfKeras(version: "2.21.0"))
        let config = try JSONValue.parse(try XCTUnwrap(converted.modelConfigJSON))
        XCTAssertEqual(config["module"], .string("tf_keras.src.engine.functional"))
        let layers = try XCTUnwrap(config["config"]?["layers"]?.arrayValue)
        let input = try XCTUnwrap(layers.first)
        XCTAssertEqual(input["config"]?["batch_input_shape"], .array([.null, .int(6)]))
        XCTAssertNil(input["config"]?["batch_shape"])
        XCTAssertNil(input["config"]?["optional"])
        // The nested Sequential has an InputLayer: tf-keras counts a first node its configs
        // leave out, so its two calls are nodes 1 and 2 (Keras 3: 0 and 1).
        let sum = try XCTUnwrap(layers.first { $0["config"]?["name"] == .string("sum") })
        XCTAssertEqual(sum["inbound_nodes"], .array([.array([
            .array([.string("block"), .int(1), .int(0), .object([])]),
            .array([.string("block"), .int(2), .int(0), .object([])]),
        ])]))
        XCTAssertEqual(config["config"]?["input_layers"], .array([.array([.string(input["config"]!["name"]!.stringValue!), .int(0), .int(0)])]))
        let block = try XCTUnwrap(layers.first { $0["config"]?["name"] == .string("block") })
        let inner = try XCTUnwrap(block["config"]?["layers"]?.arrayValue?.first { $0["class_name"] == .string("Functional") })
        XCTAssertEqual(inner["module"], .string("tf_keras.src.engine.functional"))
        let dense = try XCTUnwrap(inner["config"]?["layers"]?[1])
        XCTAssertEqual(dense["config"]?["dtype"], .string("float32"))
        XCTAssertNil(dense["config"]?["kernel_initializer"]?["config"]?["input_axes"])
        XCTAssertEqual(converted.definition?.weightGroups["block"]?.count, 4)
        // The weights and the optimizer state are the source's, bit for bit.
        XCTAssertEqual(converted.layerWeights.map { $0.weights.map(\.values) }, source.layerWeights.map { $0.weights.map(\.values) })
        XCTAssertTrue(converted.layerWeights.flatMap(\.weights).allSatisfy { $0.name.hasSuffix(":0") })
        XCTAssertEqual(converted.optimizerState, source.optimizerState)
        XCTAssertEqual(converted.trainingConfig?.optimizerClass, "Adam")
        XCTAssertEqual(converted.trainingConfig?.optimizerConfig["is_legacy_optimizer"], .bool(false))

        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try converted.write(to: directory + "/tfk.h5")
        let reread = try KerasModel.load(directory + "/tfk.h5")
        XCTAssertEqual(reread.producer, .tfKeras(version: "2.21.0"))
        XCTAssertEqual(reread.optimizerState, source.optimizerState)
        XCTAssertEqual(reread.weightsByLayer, source.weightsByLayer)
    }

    func testWhatTFKerasComputesDifferentlyIsRefusedByName() throws {
        let source = try KerasModel.load(Fixtures.path("keras3-adam.keras"))
        func converting(config edit: (String) -> String = { $0 }, training: ((String) -> String)? = nil) -> String {
            var model = source
            model.modelConfigJSON = edit(model.modelConfigJSON!)
            if let training {
                model.trainingConfigJSON = training(model.trainingConfigJSON!)
                model.trainingConfig = try? TrainingConfig.parse(model.trainingConfigJSON!)
            }
            do {
                _ = try model.convertedToTFKeras()
                return "converted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(converting(), "converted")
        XCTAssertTrue(converting { $0.replacingOccurrences(of: #""activation": "softmax""#, with: #""activation": "hard_sigmoid""#) }
            .contains("activation = \"hard_sigmoid\" computes relu6(x + 3) / 6 in Keras 3 and clip(0.2x + 0.5, 0, 1) in tf-keras"))
        XCTAssertTrue(converting { $0.replacingOccurrences(of: #""activation": "softmax""#, with: #""activation": "hard_silu""#) }
            .contains("has no tf-keras equivalent"))
        XCTAssertTrue(converting { $0.replacingOccurrences(of: #""quantization_config": null"#, with: #""quantization_config": {"mode": "int8"}"#) }
            .contains("quantization_config"))
        XCTAssertTrue(converting { $0.replacingOccurrences(of: #""module": "keras.layers", "class_name": "Activation""#,
                                                           with: #""module": "keras.src.ops.numpy", "class_name": "Activation""#) }
            .contains("which tf-keras has no layer for"))
        XCTAssertTrue(converting(training: { $0.replacingOccurrences(of: #""loss_scale_factor": null"#, with: #""loss_scale_factor": 128.0"#) })
            .contains("loss_scale_factor = 128.0 has no tf-keras equivalent"))
        XCTAssertTrue(converting(training: { $0.replacingOccurrences(of: #""class_name": "Adam""#, with: #""class_name": "Nadam""#) })
            .contains("optimizer Nadam is not converted to tf-keras"))
    }

    func testKeras3SGDWithoutMomentumGetsTFKerassZeroMomentums() throws {
        var model = try KerasModel.load(Fixtures.path("keras3-adam.keras"))
        let training = #"{"optimizer_config": {"class_name": "SGD", "config": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.0}}, "loss": "binary_crossentropy"}"#
        model.trainingConfigJSON = training
        model.trainingConfig = try TrainingConfig.parse(training)
        model.optimizerState = OptimizerState(optimizerClass: "SGD", iterations: 5, slots: [:])
        let converted = try model.convertedToTFKeras()
        let momentums = try XCTUnwrap(converted.optimizerState?.slots["m"])
        XCTAssertEqual(momentums.map(\.shape), model.trainableVariables.map(\.shape))
        XCTAssertTrue(momentums.allSatisfy { $0.floats().allSatisfy { $0 == 0 } })
    }
}
