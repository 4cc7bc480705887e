@testable import KerasFile
import XCTest

/// A model's inputs and outputs as each Keras writes `input_layers`/`output_layers` (one
/// tensor, a list, a dict), and the names data files, loss dicts and history use for them.
final class ModelEndpointsTests: XCTestCase {
    /// Inputs `img` and `vec`, outputs `cls` and `reg`, with the endpoints written as given.
    private func model(inputs: String, outputs: String) throws -> ModelDefinition {
        try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "img", "config": {"name": "img", "batch_input_shape": [null, 4]}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "vec", "config": {"name": "vec", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
              {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["img", 0, 0, {}], ["vec", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "cls", "config": {"name": "cls", "units": 2}, "inbound_nodes": [[["cat", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "reg", "config": {"name": "reg", "units": 1}, "inbound_nodes": [[["cat", 0, 0, {}]]]}],
             "input_layers": \#(inputs), "output_layers": \#(outputs)}}
            """#)
    }

    func testListsAsKeras2AndTfKerasWriteThem() throws {
        let m = try model(inputs: #"[["img", 0, 0], ["vec", 0, 0]]"#, outputs: #"[["reg", 0, 0], ["cls", 0, 0]]"#)
        XCTAssertEqual(m.inputs.map(\.layer), ["img", "vec"])
        XCTAssertEqual(m.outputs.map(\.layer), ["reg", "cls"])
        XCTAssertEqual(m.inputGrouping, .list)
        XCTAssertEqual(m.inputNames, ["img", "vec"])
        XCTAssertEqual(m.outputNames, ["reg", "cls"])
        XCTAssertEqual(m.historyOutputNames(generation: .keras3), ["reg", "cls"])
    }

    func testKeras3WritesOneTensorBare() throws {
        let m = try model(inputs: #"["img", 0, 0]"#, outputs: #"["cls", 0, 0]"#)
        XCTAssertEqual(m.inputs, [TensorRef(layer: "img")])
        XCTAssertEqual(m.inputGrouping, .single)
        XCTAssertEqual(m.outputGrouping, .single)
        XCTAssertEqual(m.outputNames, ["cls"])
    }

    /// A dict flattens in sorted key order (`tf.nest.flatten`, Keras 3's `tree.flatten`), and its
    /// keys name the entries; tf.keras's history still names outputs by their layers.
    func testDictsFlattenBySortedKeyAndTheirKeysNameTheEntries() throws {
        let m = try model(inputs: #"{"vector": ["vec", 0, 0], "image": ["img", 0, 0]}"#,
                          outputs: #"{"score": ["reg", 0, 0], "label": ["cls", 0, 0]}"#)
        XCTAssertEqual(m.inputs.map(\.layer), ["img", "vec"])
        XCTAssertEqual(m.inputGrouping, .dict(keys: ["image", "vector"]))
        XCTAssertEqual(m.inputNames, ["image", "vector"])
        XCTAssertEqual(m.outputs.map(\.layer), ["cls", "reg"])
        XCTAssertEqual(m.outputNames, ["label", "score"])
        XCTAssertEqual(m.historyOutputNames(generation: .keras3), ["label", "score"])
        XCTAssertEqual(m.historyOutputNames(generation: .tfKeras), ["cls", "reg"])
    }

    func testNestingDeeperThanOneLevelIsRefusedByName() throws {
        XCTAssertThrowsError(try model(inputs: #"[[["img", 0, 0], ["vec", 0, 0]]]"#, outputs: #"[["cls", 0, 0]]"#)) {
            XCTAssertEqual("\($0)", #"input_layers = [[["img", 0, 0], ["vec", 0, 0]]] nests tensors more than one level deep; Relapse reads one tensor, a list or a dict of them"#)
        }
        XCTAssertThrowsError(try model(inputs: #"[["img", 0, 0], ["vec", 0, 0]]"#, outputs: #"{"a": [["cls", 0, 0]]}"#)) {
            XCTAssertTrue("\($0)".hasPrefix("output_layers = "), "\($0)")
        }
        XCTAssertThrowsError(try model(inputs: "{}", outputs: #"[["cls", 0, 0]]"#)) {
            XCTAssertEqual("\($0)", "model_config has no input_layers")
        }
    }

    /// Two outputs from one layer (its two calls) get tf.keras's unique names.
    func testARepeatedOutputLayerIsNamedAsTfKerasNamesIt() {
        var m = ModelDefinition(className: "Functional", name: "m", layers: [], inputs: [TensorRef(layer: "in")],
                                outputs: [TensorRef(layer: "d"), TensorRef(layer: "d", nodeIndex: 1), TensorRef(layer: "d_1"), TensorRef(layer: "d", nodeIndex: 2)],
                                config: .null)
        m.outputGrouping = .list
        XCTAssertEqual(m.outputNames, ["d", "d_1", "d_1_1", "d_2"])
    }

    /// `convert` writes Keras 3's forms back: one tensor bare, a list, a dict with its keys.
    func testKeras3ConversionKeepsTheGrouping() throws {
        let m = try model(inputs: #"{"vector": ["vec", 0, 0], "image": ["img", 0, 0]}"#, outputs: #"[["cls", 0, 0], ["reg", 0, 0]]"#)
        let shapes = ["img": [4], "vec": [3], "cat": [7], "cls": [2], "reg": [1]]
        let config = try Keras3Dialect.modelConfig(m, outputShapes: shapes)["config"]
        XCTAssertEqual(config?["input_layers"], try JSONValue.parse(#"{"image": ["img", 0, 0], "vector": ["vec", 0, 0]}"#))
        XCTAssertEqual(config?["output_layers"], try JSONValue.parse(#"[["cls", 0, 0], ["reg", 0, 0]]"#))
        let again = try ModelConfigParser.parse(try Keras3Dialect.modelConfig(m, outputShapes: shapes))
        XCTAssertEqual(again.inputNames, ["image", "vector"])
        XCTAssertEqual(again.outputNames, ["cls", "reg"])
    }
}
