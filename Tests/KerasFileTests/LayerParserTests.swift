@testable import KerasFile
import XCTest

/// Every layer config key is honoured or refused by name (issue 12's rule).
final class LayerParserTests: XCTestCase {
    private func layer(_ className: String, _ config: String) throws -> LayerSpec {
        try LayerParser.parse(try JSONValue.parse(#"{"class_name": "\#(className)", "config": \#(config)}"#))
    }

    private let tfKerasConv = #"""
        {"name": "conv2d", "trainable": true, "dtype": "float32", "filters": 4, "kernel_size": [3, 3],
         "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
         "groups": 1, "activation": "linear", "use_bias": true,
         "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
         "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
         "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
         "kernel_constraint": null, "bias_constraint": null}
        """#

    func testDefaultConfigsOfEveryGenerationHaveNoRefusals() throws {
        XCTAssertEqual(try layer("Conv2D", tfKerasConv).refusals, [])
        // Keras 3: dtype as a DTypePolicy, quantization_config null.
        let dense3 = #"""
            {"name": "dense", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
             "units": 3, "activation": "linear", "use_bias": true, "kernel_initializer": null, "bias_initializer": null,
             "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "quantization_config": null}
            """#
        XCTAssertEqual(try layer("Dense", dense3).refusals, [])
        // Keras 2.2: the first layer of a Sequential carries its batch shape.
        let dense22 = #"{"name": "d", "trainable": true, "batch_input_shape": [null, 4], "dtype": "float32", "units": 2, "activation": "softmax", "use_bias": true}"#
        XCTAssertEqual(try layer("Dense", dense22).refusals, [])
        XCTAssertEqual(try layer("InputLayer", #"{"batch_shape": [null, 8, 8, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "in", "optional": false}"#).refusals, [])
    }

    func testAnUnknownKeyIsRefusedByNameUnlessNull() throws {
        let refusals = try layer("Dense", #"{"name": "d", "units": 2, "mystery": 3, "other": null}"#).refusals
        XCTAssertEqual(refusals.map(\.key), ["mystery"])
        XCTAssertEqual(refusals.first?.description, "layer 'd' (Dense): mystery = 3 is not supported")
    }

    func testSettingsRelapseDoesNotComputeAreRefusedTogether() throws {
        let spec = try layer("Conv2D", #"""
            {"name": "c", "filters": 2, "kernel_size": 3, "dilation_rate": [2, 2], "activation": "selu", "groups": 1,
             "dtype": "float64", "kernel_constraint": {"class_name": "RadialConstraint", "config": {}},
             "bias_regularizer": {"module": "keras.regularizers", "class_name": "OrthogonalRegularizer", "config": {"factor": 0.01, "mode": "rows"}, "registered_name": null}}
            """#)
        XCTAssertEqual(Set(spec.refusals.map(\.key)), ["activation", "dtype", "kernel_constraint", "bias_regularizer"])
        XCTAssertTrue(spec.refusals.allSatisfy { $0.scope == "layer 'c' (Conv2D)" })
        XCTAssertEqual(try layer("Dropout", #"{"name": "d", "rate": 0.5, "noise_shape": [null, 0]}"#).refusals.map(\.key), ["noise_shape"])
        XCTAssertEqual(try layer("Dropout", #"{"name": "d", "rate": 0.5, "noise_shape": [null, 1]}"#).refusals, [])
        XCTAssertEqual(try layer("Dense", #"{"name": "d", "units": 2, "lora_rank": 4}"#).refusals.map(\.key), ["lora_rank"])
        XCTAssertEqual(try layer("Dense", #"{"name": "d", "units": 2, "dtype": {"class_name": "Policy", "config": {"name": "mixed_float16"}}}"#).refusals.map(\.key), ["dtype"])
    }

    func testAnUnknownClassIsOneRefusal() throws {
        let spec = try layer("BatchNormalization", #"{"name": "bn", "momentum": 0.99, "epsilon": 0.001}"#)
        XCTAssertEqual(spec.kind, .unsupported)
        XCTAssertEqual(spec.refusals.map(\.key), ["class_name"])
        XCTAssertEqual(spec.refusals.first?.value, .string("BatchNormalization"))
    }

    func testRegularizersInEachGenerationsForm() throws {
        // Keras 2.2: always L1L2.
        var spec = try layer("Dense", #"{"name": "d", "units": 2, "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}}"#)
        XCTAssertEqual(spec.training.weightRegularizers["kernel"], Regularizer(l1: 0, l2: 0.01))
        // tf.keras: L2 with module and registered_name; the factor float32-rounded as written.
        spec = try layer("Dense", #"{"name": "d", "units": 2, "bias_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.009999999776482582}, "registered_name": null}}"#)
        XCTAssertEqual(spec.training.weightRegularizers["bias"], Regularizer(l2: 0.01))
        // Keras 3: L1 and an activity regularizer.
        spec = try layer("Conv2D", #"{"name": "c", "filters": 2, "kernel_size": 3, "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.5}, "registered_name": null}, "activity_regularizer": {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}, "registered_name": null}}"#)
        XCTAssertEqual(spec.training.weightRegularizers["kernel"], Regularizer(l1: 0.5))
        XCTAssertEqual(spec.training.activityRegularizer, Regularizer(l1: 0.1, l2: 0.2))
        XCTAssertEqual(spec.refusals, [])
        // A custom registered class is user code: refused.
        spec = try layer("Dense", #"{"name": "d", "units": 2, "kernel_regularizer": {"module": null, "class_name": "L2", "config": {"l2": 0.1}, "registered_name": "Custom>L2"}}"#)
        XCTAssertEqual(spec.refusals.map(\.key), ["kernel_regularizer"])
    }

    func testConstraintsWithTheirDefaultsAndAxes() throws {
        var spec = try layer("Dense", #"{"name": "d", "units": 2, "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 3, "axis": [0, 1]}}, "bias_constraint": {"class_name": "NonNeg", "config": {}}}"#)
        XCTAssertEqual(spec.training.constraints["kernel"], .maxNorm(maxValue: 3, axes: [0, 1]))
        XCTAssertEqual(spec.training.constraints["bias"], .nonNeg)
        spec = try layer("Dense", #"{"name": "d", "units": 2, "kernel_constraint": {"module": "keras.constraints", "class_name": "MinMaxNorm", "config": {"min_value": 0.5}, "registered_name": null}}"#)
        XCTAssertEqual(spec.training.constraints["kernel"], .minMaxNorm(minValue: 0.5, maxValue: 1, rate: 1, axes: [0]))
        spec = try layer("Dense", #"{"name": "d", "units": 2, "kernel_constraint": {"class_name": "UnitNorm", "config": {"axis": -1}}}"#)
        XCTAssertEqual(spec.training.constraints["kernel"], .unitNorm(axes: [-1]))
        spec = try layer("Dense", #"{"name": "d", "units": 2, "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 3, "mystery": 1}}}"#)
        XCTAssertEqual(spec.refusals.map(\.key), ["kernel_constraint"])
    }

    func testTrainableAndGroupsAreRead() throws {
        let spec = try layer("Conv2D", #"{"name": "c", "filters": 4, "kernel_size": 3, "groups": 2, "trainable": false}"#)
        XCTAssertFalse(spec.training.trainable)
        guard case .conv2D(let conv) = spec.kind else { return XCTFail("not a Conv2D") }
        XCTAssertEqual(conv.groups, 2)
        XCTAssertEqual(spec.refusals, [])
    }

    func testAModelsOwnKeys() throws {
        let frozen = try ModelConfigParser.parse(#"""
            {"class_name": "Sequential", "config": {"name": "s", "trainable": false, "dtype": "float32", "build_input_shape": [null, 4],
             "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
                        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
            """#)
        XCTAssertEqual(frozen.refusals, [])
        XCTAssertTrue(frozen.layers.allSatisfy { !$0.training.trainable })
        let odd = try ModelConfigParser.parse(#"""
            {"class_name": "Sequential", "config": {"name": "s", "jit": true, "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}}, {"class_name": "Dense", "config": {"name": "d", "units": 2, "x": 1}}]}}
            """#)
        XCTAssertEqual(odd.refusals.map(\.description), ["model 's': jit = true is not supported", "layer 'd' (Dense): x = 1 is not supported"])
    }
}
