import XCTest
import KerasFile
@testable import Network

/// Keras 3.7+ on TensorFlow puts a channels_first convolution's bias on the output's last axis
/// when that axis is as long as the channels (`Keras3BiasAxis`, measured with real Keras): such a
/// file is refused when its network is built, naming the layer; every other file builds.
final class Keras3BiasAxisTests: XCTestCase {
    let keras3 = Producer(kerasVersion: "3.15.1")

    /// Input(shape) -> the layer -> Flatten, as a Sequential config.
    func model(_ className: String, _ config: String, input shape: [Int]) throws -> ModelDefinition {
        let batchShape = "[null, " + shape.map(String.init).joined(separator: ", ") + "]"
        return try ModelConfigParser.parse(#"""
            {"class_name": "Sequential", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": \#(batchShape)}},
              {"class_name": "\#(className)", "config": {"name": "conv", \#(config)}},
              {"class_name": "Flatten", "config": {"name": "flat"}}]}}
            """#, generation: .keras3)
    }

    /// The refusal building the network throws (nil when it builds).
    func refusal(_ definition: ModelDefinition, _ producer: Producer, backend: String? = "tensorflow",
                 file: StaticString = #filePath, line: UInt = #line) -> ConfigRefusal? {
        do {
            _ = try Network(definition: definition, producer: producer, backend: backend)
            return nil
        } catch let error as ConfigRefusals {
            XCTAssertEqual(error.refusals.count, 1, "\(error)", file: file, line: line)
            return error.refusals.first
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    static let cf = #""data_format": "channels_first""#
    /// Each convolution Relapse computes, on an input that makes its output's last axis 8, as long
    /// as its 8 channels, and on one that makes it 5.
    let cases: [(className: String, config: String, equal: [Int], unequal: [Int], axis: String)] = [
        ("Conv2D", #""filters": 8, "kernel_size": [3, 3], \#(Keras3BiasAxisTests.cf)"#, [3, 6, 10], [3, 6, 7], "width"),
        ("Conv2DTranspose", #""filters": 8, "kernel_size": [3, 3], \#(Keras3BiasAxisTests.cf)"#, [3, 4, 6], [3, 4, 3], "width"),
        ("DepthwiseConv2D", #""kernel_size": [3, 3], "depth_multiplier": 2, \#(Keras3BiasAxisTests.cf)"#, [4, 6, 10], [4, 6, 7], "width"),
        ("SeparableConv2D", #""filters": 8, "kernel_size": [3, 3], \#(Keras3BiasAxisTests.cf)"#, [3, 6, 10], [3, 6, 7], "width"),
        ("Conv1D", #""filters": 8, "kernel_size": [3], \#(Keras3BiasAxisTests.cf)"#, [3, 10], [3, 7], "length"),
    ]

    func testEveryConvolutionIsRefusedWhereItsLastAxisIsAsLongAsItsChannels() throws {
        for c in cases {
            let equal = try model(c.className, c.config, input: c.equal)
            let refused = try XCTUnwrap(refusal(equal, keras3), c.className)
            XCTAssertEqual(refused.scope, "layer 'conv' (\(c.className))")
            XCTAssertEqual(refused.key, "data_format")
            XCTAssertEqual(refused.value, .string("channels_first"))
            XCTAssertTrue(refused.reason.hasPrefix("with 8 output channels and an output \(c.axis) of 8: Keras 3.15.1 on the TensorFlow backend adds this bias along the last axis (the \(c.axis)), not the channels"), refused.reason)
            XCTAssertNil(refusal(try model(c.className, c.config, input: c.unequal), keras3), "\(c.className) with a last axis of 5")
        }
    }

    func testOnlyKeras3From3Point7OnTensorFlowIsRefused() throws {
        let equal = try model("Conv2D", #""filters": 8, "kernel_size": [3, 3], \#(Self.cf)"#, input: [3, 6, 10])
        XCTAssertNotNil(refusal(equal, Producer(kerasVersion: "3.7.0")))
        XCTAssertNotNil(refusal(equal, Producer(kerasVersion: "3.10.0")))
        // Keras 3.0-3.6 added the bias with tf.add; tf-keras and Keras 2.2 with bias_add(data_format).
        XCTAssertNil(refusal(equal, Producer(kerasVersion: "3.6.0")))
        XCTAssertNil(refusal(equal, Producer(kerasVersion: "2.21.0")))
        XCTAssertNil(refusal(equal, Producer(kerasVersion: "2.2.4")))
        XCTAssertNil(refusal(equal, .unknown(version: nil), backend: nil), "a config on its own (model.to_json)")
        // JAX, PyTorch and NumPy compute the documented bias; a .keras records no backend.
        for backend in ["jax", "torch", "numpy"] { XCTAssertNil(refusal(equal, keras3, backend: backend), backend) }
        let unrecorded = try XCTUnwrap(refusal(equal, keras3, backend: nil))
        XCTAssertTrue(unrecorded.reason.hasSuffix("(the file does not record its backend: a model saved on JAX or PyTorch records it in a legacy .h5)"), unrecorded.reason)
    }

    func testWhatSqueezesToNoBiasOrHasNoneIsNotRefused() throws {
        // One channel: Keras's add sees no bias-like vector and broadcasts (tf.add).
        XCTAssertNil(refusal(try model("Conv2D", #""filters": 1, "kernel_size": [3, 3], \#(Self.cf)"#, input: [3, 6, 3]), keras3))
        XCTAssertNil(refusal(try model("Conv2D", #""filters": 8, "kernel_size": [3, 3], "use_bias": false, \#(Self.cf)"#,
                                       input: [3, 6, 10]), keras3))
        // channels_last: the bias belongs on the last axis.
        XCTAssertNil(refusal(try model("Conv2D", #""filters": 8, "kernel_size": [3, 3]"#, input: [6, 10, 3]), keras3))
        // The height as long as the channels is not the last axis.
        XCTAssertNil(refusal(try model("Conv2D", #""filters": 8, "kernel_size": [3, 3], \#(Self.cf)"#, input: [3, 10, 7]), keras3))
    }

    /// A shared layer is judged at every call: here only its second call's output is (8, 4, 8).
    func testASharedConvolutionIsJudgedAtEachCall() throws {
        let definition = try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_shape": [null, 3, 6, 7]}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "b", "config": {"name": "b", "batch_shape": [null, 3, 6, 10]}, "inbound_nodes": []},
              {"class_name": "Conv2D", "name": "conv", "config": {"name": "conv", "filters": 8, "kernel_size": [3, 3],
               "data_format": "channels_first"}, "inbound_nodes": [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]},
              {"class_name": "Flatten", "name": "fa", "config": {"name": "fa"}, "inbound_nodes": [[["conv", 0, 0, {}]]]},
              {"class_name": "Flatten", "name": "fb", "config": {"name": "fb"}, "inbound_nodes": [[["conv", 1, 0, {}]]]},
              {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat"}, "inbound_nodes": [[["fa", 0, 0, {}], ["fb", 0, 0, {}]]]}],
             "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["cat", 0, 0]]}}
            """#)
        let refused = try XCTUnwrap(refusal(definition, keras3))
        XCTAssertEqual(refused.scope, "layer 'conv' (Conv2D)")
        XCTAssertNil(refusal(definition, Producer(kerasVersion: "2.21.0")))
    }
}
