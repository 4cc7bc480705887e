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
            {"name": "c", "filters": 2, "kernel_size": 3, "dilation_rate": [2, 2], "activation": "celu", "groups": 1,
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
        let spec = try layer("LayerNormalization", #"{"name": "ln", "axis": [-1], "epsilon": 0.001}"#)
        XCTAssertEqual(spec.kind, .unsupported)
        XCTAssertEqual(spec.refusals.map(\.key), ["class_name"])
        XCTAssertEqual(spec.refusals.first?.value, .string("LayerNormalization"))
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

    // MARK: BatchNormalization, activation layers, preprocessing (issue 13)

    func testBatchNormalizationConfigsAsKerasWritesThem() throws {
        // tf-keras 2.21 get_config (axis resolved to a list) and Keras 3.15.
        let tfk = try layer("BatchNormalization", #"""
            {"name": "bn", "trainable": true, "dtype": "float32", "axis": [1], "momentum": 0.9, "epsilon": 0.01, "center": true, "scale": false,
             "beta_initializer": {"class_name": "Zeros", "config": {}}, "gamma_initializer": {"class_name": "Ones", "config": {}},
             "moving_mean_initializer": {"class_name": "Zeros", "config": {}}, "moving_variance_initializer": {"class_name": "Ones", "config": {}},
             "beta_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null}
            """#)
        XCTAssertEqual(tfk.refusals, [])
        XCTAssertEqual(tfk.kind, .batchNormalization(BatchNormalizationSpec(axis: 1, momentum: 0.9, epsilon: 0.01, center: true, scale: false)))
        XCTAssertEqual(tfk.weightNames, ["beta", "moving_mean", "moving_variance"])
        XCTAssertEqual(tfk.nonTrainableWeightNames, ["moving_mean", "moving_variance"])
        XCTAssertEqual(tfk.training.weightRegularizers["beta"], Regularizer(l2: 0.01))
        let k3 = try LayerParser.parse(try JSONValue.parse(#"""
            {"class_name": "BatchNormalization", "config": {"name": "bn", "trainable": false,
             "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
             "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": null, "gamma_initializer": null,
             "moving_mean_initializer": null, "moving_variance_initializer": null, "beta_regularizer": null, "gamma_regularizer": null,
             "beta_constraint": null, "gamma_constraint": null, "synchronized": true, "renorm": false, "renorm_clipping": null, "renorm_momentum": 0.99}}
            """#), generation: .keras3)
        XCTAssertEqual(k3.refusals, [])
        XCTAssertFalse(k3.training.trainable)
        // tf.keras's synchronized turns the fused kernel off (and with it the unbiased moving variance).
        let sync = try LayerParser.parse(try JSONValue.parse(#"{"class_name": "BatchNormalization", "config": {"name": "b", "synchronized": true}}"#))
        XCTAssertEqual(sync.kind, .batchNormalization(BatchNormalizationSpec(fused: false)))
    }

    func testBatchNormalizationSettingsRelapseDoesNotComputeAreRefusedByName() throws {
        let spec = try layer("BatchNormalization", #"""
            {"name": "bn", "axis": [1, 2], "renorm": true, "renorm_clipping": {"rmax": 3}, "virtual_batch_size": 8,
             "gamma_constraint": {"class_name": "RadialConstraint", "config": {}}}
            """#)
        XCTAssertEqual(spec.refusals.map(\.key), ["axis", "gamma_constraint", "renorm", "virtual_batch_size", "renorm_clipping"])
        XCTAssertEqual(try layer("Rescaling", #"{"name": "r", "scale": [0.5, 0.25, 1.0], "offset": 0}"#).refusals.map(\.key), ["scale"])
        XCTAssertEqual(try layer("Softmax", #"{"name": "s", "axis": [1, 2]}"#).refusals.map(\.key), ["axis"])
        XCTAssertEqual(try layer("Normalization", #"{"name": "n", "axis": [0, 1]}"#).refusals.map(\.key), ["axis"])
        XCTAssertEqual(try layer("PReLU", #"{"name": "p", "alpha_regularizer": {"class_name": "OrthogonalRegularizer", "config": {}}}"#).refusals.map(\.key),
                       ["alpha_regularizer"])
        XCTAssertThrowsError(try layer("BatchNormalization", #"{"name": "bn", "axis": 0}"#))
    }

    func testActivationLayersAndNames() throws {
        XCTAssertEqual(try layer("ReLU", #"{"name": "r", "max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}"#).kind,
                       .activationLayer(.relu(negativeSlope: 0, maxValue: 6, threshold: 0)))
        XCTAssertEqual(try layer("LeakyReLU", #"{"name": "l", "alpha": 0.1}"#).kind, .activationLayer(.leakyRelu(slope: 0.1)))
        XCTAssertEqual(try layer("LeakyReLU", #"{"name": "l", "negative_slope": 0.2}"#).kind, .activationLayer(.leakyRelu(slope: 0.2)))
        XCTAssertEqual(try layer("ELU", #"{"name": "e"}"#).kind, .activationLayer(.elu(alpha: 1)))
        let k3 = #"{"class_name": "Activation", "config": {"name": "a", "activation": {"module": "keras.activations", "class_name": "function", "config": "hard_sigmoid", "registered_name": "hard_sigmoid"}}}"#
        XCTAssertEqual(try LayerParser.parse(try JSONValue.parse(k3), generation: .keras3).kind, .activation(.hardSigmoidKeras3))
        XCTAssertEqual(try LayerParser.parse(try JSONValue.parse(k3), generation: .tfKeras).kind, .activation(.hardSigmoid))
        let unknown = try layer("Activation", #"{"name": "a", "activation": "hard_sigmoid (Keras 3)"}"#)
        XCTAssertEqual(unknown.refusals.map(\.key), ["activation"])
    }
}

/// Issue 13's layers: every key real tf-keras 2.21 and Keras 3.15 write is read; settings Relapse
/// does not compute are refused by name.
final class SpatialLayerParserTests: XCTestCase {
    private func layer(_ className: String, _ config: String) throws -> LayerSpec {
        try LayerParser.parse(try JSONValue.parse(#"{"class_name": "\#(className)", "config": \#(config)}"#))
    }

    private let initializer = #"{"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}"#
    private let zeros = #"{"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}"#
    private let dtype3 = #"{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}"#

    /// The configs `get_config()` returns in tf-keras 2.21 (dtype a string) and Keras 3.15.1.
    func testRealKerasConfigsHaveNoRefusals() throws {
        let conv = #""trainable": true, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": true, "bias_initializer": \#(zeros), "bias_regularizer": null, "activity_regularizer": null, "bias_constraint": null"#
        for dtype in [#""float32""#, dtype3] {
            let common = #""name": "l", "dtype": \#(dtype), "trainable": true"#
            let configs: [(String, String)] = [
                ("Conv2D", #"{\#(common), \#(conv), "filters": 2, "groups": 1, "dilation_rate": [2, 2], "kernel_initializer": \#(initializer), "kernel_regularizer": null, "kernel_constraint": null}"#),
                ("Conv1D", #"{\#(common), "filters": 2, "kernel_size": [3], "strides": [1], "padding": "causal", "data_format": "channels_last", "dilation_rate": [1], "groups": 1, "activation": "linear", "use_bias": true, "kernel_initializer": \#(initializer), "bias_initializer": \#(zeros), "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}"#),
                ("DepthwiseConv2D", #"{\#(common), \#(conv), "groups": 1, "depth_multiplier": 1, "depthwise_initializer": \#(initializer), "depthwise_regularizer": null, "depthwise_constraint": null}"#),
                ("SeparableConv2D", #"{\#(common), \#(conv), "filters": 2, "groups": 1, "kernel_initializer": \#(initializer), "kernel_regularizer": null, "kernel_constraint": null, "depth_multiplier": 1, "depthwise_initializer": \#(initializer), "pointwise_initializer": \#(initializer), "depthwise_regularizer": null, "pointwise_regularizer": null, "depthwise_constraint": null, "pointwise_constraint": null}"#),
                ("Conv2DTranspose", #"{\#(common), \#(conv), "filters": 2, "groups": 1, "kernel_initializer": \#(initializer), "kernel_regularizer": null, "kernel_constraint": null, "output_padding": null}"#),
                ("AveragePooling2D", #"{\#(common), "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}"#),
                ("AveragePooling1D", #"{\#(common), "strides": [2], "pool_size": [2], "padding": "valid", "data_format": "channels_last"}"#),
                ("MaxPooling1D", #"{\#(common), "strides": [2], "pool_size": [2], "padding": "valid", "data_format": "channels_last"}"#),
                ("GlobalAveragePooling2D", #"{\#(common), "data_format": "channels_last", "keepdims": false}"#),
                ("GlobalMaxPooling1D", #"{\#(common), "data_format": "channels_first", "keepdims": true}"#),
                ("ZeroPadding2D", #"{\#(common), "padding": [[1, 1], [1, 1]], "data_format": "channels_last"}"#),
                ("Cropping2D", #"{\#(common), "cropping": [[0, 0], [0, 0]], "data_format": "channels_last"}"#),
                ("UpSampling2D", #"{\#(common), "size": [2, 2], "data_format": "channels_last", "interpolation": "bilinear"}"#),
                ("Permute", #"{\#(common), "dims": [2, 1]}"#),
                ("SpatialDropout2D", #"{\#(common), "rate": 0.5, "noise_shape": null, "seed": null}"#),
                ("SpatialDropout2D", #"{\#(common), "rate": 0.5, "seed": null, "data_format": "channels_first"}"#),
                ("Dropout", #"{\#(common), "rate": 0.5, "noise_shape": [null, 1, 5], "seed": null}"#),
            ]
            for (cls, config) in configs {
                let spec = try layer(cls, config)
                XCTAssertEqual(spec.refusals, [], cls)
                XCTAssertNotEqual(spec.kind, .unsupported, cls)
            }
        }
        XCTAssertEqual(try layer("SeparableConv2D", #"{"name": "s", "filters": 2, "kernel_size": 3}"#).weightNames, ["depthwise_kernel", "pointwise_kernel", "bias"])
        XCTAssertEqual(try layer("DepthwiseConv2D", #"{"name": "d", "kernel_size": 3, "use_bias": false}"#).weightNames, ["depthwise_kernel"])
    }

    func testValuesAreReadIntoTheSpec() throws {
        guard case .spatial(.conv1D(let c)) = try layer("Conv1D", #"{"name": "c", "filters": 4, "kernel_size": 5, "padding": "causal", "dilation_rate": 2}"#).kind else { return XCTFail() }
        XCTAssertEqual(c.kernelSize, [5])
        XCTAssertTrue(c.causal)
        XCTAssertEqual(c.dilationRate, [2])
        guard case .spatial(.conv2DTranspose(let t)) = try layer("Conv2DTranspose", #"{"name": "t", "filters": 4, "kernel_size": 3, "strides": 2, "output_padding": [1, 0]}"#).kind else { return XCTFail() }
        XCTAssertEqual(t.outputPadding, [1, 0])
        XCTAssertEqual(t.strides, [2, 2])
        guard case .spatial(.zeroPadding2D(let p, _)) = try layer("ZeroPadding2D", #"{"name": "z", "padding": [1, 2]}"#).kind else { return XCTFail() }
        XCTAssertEqual(p, [1, 1, 2, 2])
        guard case .spatial(.cropping2D(let q, _)) = try layer("Cropping2D", #"{"name": "z", "cropping": [[1, 0], [2, 3]]}"#).kind else { return XCTFail() }
        XCTAssertEqual(q, [1, 0, 2, 3])
    }

    func testSettingsRelapseDoesNotComputeAreRefusedByName() throws {
        let up = try layer("UpSampling2D", #"{"name": "up", "size": 2, "interpolation": "bicubic"}"#)
        XCTAssertEqual(up.refusals.map(\.key), ["interpolation"])
        XCTAssertEqual(up.refusals.first?.description, "layer 'up' (UpSampling2D): interpolation = \"bicubic\" is not supported (Relapse computes nearest and bilinear)")
        XCTAssertEqual(try layer("DepthwiseConv2D", #"{"name": "d", "kernel_size": 3, "groups": 2}"#).refusals.map(\.key), ["groups"])
        XCTAssertEqual(try layer("Conv2DTranspose", #"{"name": "t", "filters": 2, "kernel_size": 3, "groups": 2}"#).refusals.map(\.key), ["groups"])
        let sep = try layer("SeparableConv2D", #"{"name": "s", "filters": 2, "kernel_size": 3, "pointwise_regularizer": {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.1}}, "depthwise_constraint": {"class_name": "RadialConstraint", "config": {}}}"#)
        XCTAssertEqual(Set(sep.refusals.map(\.key)), ["pointwise_regularizer", "depthwise_constraint"])
        let regularized = try layer("DepthwiseConv2D", #"{"name": "d", "kernel_size": 3, "depthwise_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "depthwise_constraint": {"class_name": "NonNeg", "config": {}}}"#)
        XCTAssertEqual(regularized.refusals, [])
        XCTAssertNotNil(regularized.training.weightRegularizers["depthwise_kernel"])
        XCTAssertNotNil(regularized.training.constraints["depthwise_kernel"])
        XCTAssertEqual(try layer("AveragePooling2D", #"{"name": "a", "pool_size": 2, "mystery": 1}"#).refusals.map(\.key), ["mystery"])
        XCTAssertThrowsError(try layer("Conv1D", #"{"name": "c", "filters": 2, "kernel_size": 3, "padding": "full"}"#))
        XCTAssertThrowsError(try layer("Conv2D", #"{"name": "c", "filters": 2, "kernel_size": 3, "padding": "causal"}"#))
    }

    /// Every class the settings matrix lists (tools/test_settings_matrix.py SUPPORTED_LAYERS)
    /// refuses a float64 dtype by name, in tf-keras's string form and Keras 3's DTypePolicy. The
    /// matrix's `<family>-float64` cases set it on a whole family at once, and a refused file
    /// prints only its first refusal: this is where each class is seen to refuse its own.
    func testEveryClassRefusesAFloat64DType() throws {
        let required: [String: String] = [
            "InputLayer": #""batch_input_shape": [null, 4]"#, "Conv2D": #""filters": 2, "kernel_size": 3"#,
            "Dense": #""units": 2"#, "Reshape": #""target_shape": [2]"#, "Dropout": #""rate": 0.1"#,
            "Activation": #""activation": "relu""#, "DepthwiseConv2D": #""kernel_size": 3"#,
            "SeparableConv2D": #""filters": 2, "kernel_size": 3"#, "Conv2DTranspose": #""filters": 2, "kernel_size": 3"#,
            "Conv1D": #""filters": 2, "kernel_size": 3"#, "Rescaling": #""scale": 0.5"#, "Permute": #""dims": [2, 1]"#,
            "SpatialDropout2D": #""rate": 0.1"#,
        ]
        let weightless = ["MaxPooling2D", "Flatten", "BatchNormalization", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
                          "Normalization", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
                          "AveragePooling2D", "AveragePooling1D", "MaxPooling1D", "GlobalAveragePooling2D",
                          "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D", "ZeroPadding2D",
                          "Cropping2D", "UpSampling2D"]
        XCTAssertEqual(required.count + weightless.count, 39)
        let policy64 = #"{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"}, "registered_name": null}"#
        for cls in Array(required.keys) + weightless {
            let extra = required[cls].map { ", \($0)" } ?? ""
            for dtype in [#""float64""#, policy64] {
                let spec = try layer(cls, #"{"name": "l", "dtype": \#(dtype)\#(extra)}"#)
                XCTAssertNotEqual(spec.kind, .unsupported, cls)
                XCTAssertEqual(spec.refusals.map(\.key), ["dtype"], "\(cls) \(dtype)")
            }
            XCTAssertEqual(try layer(cls, #"{"name": "l", "dtype": "float32"\#(extra)}"#).refusals, [], cls)
        }
    }

    /// Lambda and TFOpLambda hold Python code: refused as classes, by name.
    func testLambdaLayersAreRefusedByClassName() throws {
        for cls in ["Lambda", "TFOpLambda", "SlicingOpLambda"] {
            let spec = try layer(cls, #"{"name": "fn", "function": ["4wEAAAAAAAAA", null, null], "arguments": {}}"#)
            XCTAssertEqual(spec.kind, .unsupported)
            XCTAssertEqual(spec.refusals.map(\.description), ["layer 'fn' (\(cls)): class_name = \"\(cls)\" is not a layer Relapse computes"])
        }
    }
}
