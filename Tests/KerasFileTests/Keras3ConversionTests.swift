import Foundation
import HDF5
@testable import KerasFile
import XCTest

/// `relapse convert` to Keras 3 (Keras3Conversion.swift): a tf-keras model in Keras 3's config
/// dialect. Nested models are inlined with every call of every layer; what tf-keras 2.21 writes
/// and Keras 3.15 refuses is rewritten; what Keras 3 computes differently is refused by name.
/// (tools/keras3_formats.py has Keras 3 itself load each tf-keras architecture converted.)
final class Keras3ConversionTests: XCTestCase {
    /// Per-sample output shapes of tfk-nested.keras's layers, as the network computes them.
    static func nestedShapes(_ model: KerasModel) throws -> [String: [Int]] {
        let input = try XCTUnwrap(model.definition?.layers.first?.name)
        return [input: [6], "inner_in": [5], "inner_out": [5], "block_bn": [5], "block_out": [6], "sum": [6], "head": [2]]
    }

    func testANestedTFKerasModelIsInlinedWithEveryCall() throws {
        let source = try KerasModel.load(Fixtures.path("tfk-nested.keras"))
        let converted = try source.convertedToKeras3(outputShapes: try Self.nestedShapes(source))
        XCTAssertEqual(converted.producer, .keras3(version: Keras3Dialect.version))
        let config = try JSONValue.parse(try XCTUnwrap(converted.modelConfigJSON))
        let layers = try XCTUnwrap(config["config"]?["layers"]?.arrayValue)
        XCTAssertEqual(layers.map { $0["config"]?["name"]?.stringValue ?? "" }.dropFirst(),
                       ["inner_in", "inner_out", "block_bn", "block_out", "sum", "head"])
        // The block was called twice: each of its layers has two calls, the second reading the first's output.
        let bn = try XCTUnwrap(layers.first { $0["config"]?["name"] == .string("block_bn") })
        XCTAssertEqual(bn["inbound_nodes"]?.arrayValue?.count, 2)
        XCTAssertEqual(bn["inbound_nodes"]?[1]?["args"]?[0]?["config"]?["keras_history"], .array([.string("inner_out"), .int(1), .int(0)]))
        XCTAssertEqual(bn["config"]?["axis"], .int(1), "tf-keras's [1] is Keras 3's 1")
        let innerIn = try XCTUnwrap(layers.first { $0["config"]?["name"] == .string("inner_in") })
        XCTAssertEqual(innerIn["inbound_nodes"]?[1]?["args"]?[0]?["config"]?["keras_history"], .array([.string("block_out"), .int(0), .int(0)]))
        // One weight group per layer, in Keras's trainable_weights order; the state follows it.
        XCTAssertEqual(converted.layerWeights.filter { !$0.weights.isEmpty }.map(\.layerName), ["inner_in", "inner_out", "block_bn", "block_out", "head"])
        XCTAssertEqual(converted.weightsByLayer, source.weightsByLayer)
        XCTAssertEqual(converted.optimizerState?.slots, source.optimizerState?.slots)
        XCTAssertEqual(converted.trainableVariables.map(\.shape), source.trainableVariables.map(\.shape))
        // And it reads back from a .keras as the same model.
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try converted.write(to: directory + "/k3.keras")
        let reread = try KerasModel.load(directory + "/k3.keras")
        XCTAssertEqual(reread.weightsByLayer, source.weightsByLayer)
        XCTAssertEqual(reread.optimizerState?.slots, source.optimizerState?.slots)
    }

    func testTFKerasKeysKeras3RefusesAreRewritten() throws {
        func converted(_ entry: String) throws -> JSONValue {
            try Keras3Dialect.layerConfig(try LayerParser.parse(try JSONValue.parse(entry)))
        }
        let bn = try converted(#"{"class_name": "BatchNormalization", "config": {"name": "bn", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true}}"#)
        XCTAssertEqual(bn["axis"], .int(3))
        let leaky = try converted(#"{"class_name": "LeakyReLU", "config": {"name": "lr", "alpha": 0.3}}"#)
        XCTAssertEqual(leaky["negative_slope"], .double(0.3))
        XCTAssertNil(leaky["alpha"])
        let depthwise = try converted(#"{"class_name": "DepthwiseConv2D", "config": {"name": "dw", "kernel_size": [3, 3], "groups": 1}}"#)
        XCTAssertNil(depthwise["groups"])
        let spatial = try converted(#"{"class_name": "SpatialDropout2D", "config": {"name": "sd", "rate": 0.1, "noise_shape": null, "trainable": true}}"#)
        XCTAssertNil(spatial["noise_shape"])
        XCTAssertNil(spatial["trainable"])
    }

    func testWhatKeras3ComputesDifferentlyIsRefusedByName() throws {
        let source = try KerasModel.load(Fixtures.path("tfk-adam.keras"))
        let shapes: [String: [Int]] = [source.definition!.layers[0].name: [1, 8, 8], "conv2d": [4, 6, 6], "max_pooling2d": [4, 3, 3],
                                       "flatten": [36], "dense": [2], "activation": [2]]
        func converting(_ edit: (String) -> String) -> String {
            var model = source
            model.modelConfigJSON = edit(model.modelConfigJSON!)
            do {
                model.definition = try ModelConfigParser.parse(model.modelConfigJSON!)
                _ = try model.convertedToKeras3(outputShapes: shapes)
                return "converted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(converting { $0 }, "converted")
        XCTAssertTrue(converting { $0.replacingOccurrences(of: #""activation": "softmax""#, with: #""activation": "hard_sigmoid""#) }
            .contains("computes clip(0.2x + 0.5, 0, 1) here and relu6(x + 3) / 6 in Keras 3"))
        // tf.keras's Monte Carlo dropout: an explicit training=True on a call.
        XCTAssertTrue(converting { $0.replacingOccurrences(of: #"[["flatten", 0, 0, {}]]"#, with: #"[["flatten", 0, 0, {"training": true}]]"#) }
            .contains("call argument training = true has no Keras 3 equivalent"))
    }
}
