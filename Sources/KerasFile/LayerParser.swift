/// One layer of `model_config` to a `LayerSpec`. Every key of the layer's config is read here
/// or refused by name (`ConfigKeys`): a setting Relapse does not compute never trains silently.
/// A malformed value (a negative filter count) is an error; a well-formed setting Relapse does
/// not implement is a refusal, collected so that `inspect` can list all of a file's at once.
enum LayerParser {
    static func parse(_ entry: JSONValue, generation: KerasGeneration = .tfKeras) throws -> LayerSpec {
        guard let className = entry["class_name"]?.stringValue, let config = entry["config"] else {
            throw ModelConfigParser.Failure("a layer in model_config has no class_name/config")
        }
        guard let name = config["name"]?.stringValue ?? entry["name"]?.stringValue else {
            throw ModelConfigParser.Failure("a \(className) layer has no name")
        }
        var layer = LayerConfigReader(config: config, layer: name, className: className, generation: generation)
        let kind = try layer.readKind()
        layer.readCommonKeys()
        var refusals = layer.refusals + layer.keys.leftovers(defaults: layer.defaults)
        if case .unsupported = kind {
            // The class itself is the refusal; its keys would only repeat it.
            refusals = layer.refusals
        }
        return LayerSpec(name: name, className: className, kind: kind, inbound: [], config: config,
                         training: layer.training, refusals: refusals)
    }
}

/// Typed, consuming access to one layer's config: errors and refusals name the layer and the key.
struct LayerConfigReader {
    let config: JSONValue
    let layer: String
    let className: String
    /// The Keras that wrote the config: hard_sigmoid and BatchNormalization differ between them.
    let generation: KerasGeneration
    var keys: ConfigKeys
    var refusals: [ConfigRefusal] = []
    var training = LayerTrainingSettings()
    /// Keras's defaults of keys this class has but Relapse has no use for (left over, they pass).
    var defaults: [String: JSONValue] = [:]

    init(config: JSONValue, layer: String, className: String, generation: KerasGeneration = .tfKeras) {
        self.config = config
        self.generation = generation
        self.layer = layer
        self.className = className
        self.keys = ConfigKeys(config, scope: "layer '\(layer)' (\(className))")
    }

    func fail(_ key: String, _ problem: String) -> ModelConfigParser.Failure {
        ModelConfigParser.Failure("\(className) '\(layer)': \(key) \(problem)")
    }

    mutating func refuse(_ key: String, _ reason: String = "is not supported") {
        refusals.append(keys.refusal(key, reason))
    }

    // MARK: Classes

    mutating func readKind() throws -> LayerKind {
        switch className {
        case "InputLayer":
            guard let shape = try ModelConfigParser.batchShape(in: config) else { throw fail("batch shape", "is missing") }
            keys.accept("batch_input_shape", "batch_shape")
            // A dense float input; sparse and ragged tensors are other data types.
            if let r = keys.require("sparse", in: [.bool(false)]) { refusals.append(r) }
            if let r = keys.require("ragged", in: [.bool(false)]) { refusals.append(r) }
            if let r = keys.require("optional", in: [.bool(false)]) { refusals.append(r) }
            return .input(batchShape: shape)
        case "Activation":
            return .activation(try activation("activation"))
        case "Conv2D", "Convolution2D":
            let spec = Conv2DSpec(
                filters: try int("filters"), kernelSize: try pair("kernel_size"),
                strides: try pair("strides", default: (1, 1)), padding: try padding(),
                dataFormat: try dataFormat(), dilationRate: try pair("dilation_rate", default: (1, 1)),
                activation: try activation("activation", default: .linear),
                useBias: try bool("use_bias", default: true), groups: try positiveInt("groups", default: 1))
            try readWeightSettings(weights: ["kernel", "bias"])
            return .conv2D(spec)
        case "MaxPooling2D", "MaxPool2D":
            let pool = try pair("pool_size", default: (2, 2))
            return .maxPooling2D(Pooling2DSpec(
                poolSize: pool, strides: try pair("strides", default: pool),
                padding: try padding(), dataFormat: try dataFormat()))
        case "Reshape":
            return .reshape(targetShape: try intList("target_shape"))
        case "Flatten":
            return .flatten(try dataFormat())
        case "Dense":
            let spec = DenseSpec(units: try int("units"), activation: try activation("activation", default: .linear),
                                 useBias: try bool("use_bias", default: true))
            try readWeightSettings(weights: ["kernel", "bias"])
            // Keras 3: a quantized layer stores other weights; LoRA adds trainable ones.
            for key in ["quantization_config", "lora_rank", "lora_alpha"] {
                if let value = keys.take(key), !value.isNull { refuse(key) }
            }
            return .dense(spec)
        case "Dropout":
            if let noise = keys.take("noise_shape"), !noise.isNull, dropoutNoiseShape(noise) == nil {
                refuse("noise_shape", "must be a list of positive sizes or nulls")
            }
            guard let rate = keys.take("rate")?.doubleValue, (0..<1).contains(rate) else { throw fail("rate", "must be in [0, 1)") }
            return .dropout(rate: rate, seed: keys.take("seed")?.intValue)
        case "BatchNormalization", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Rescaling", "Normalization":
            return try readNormalizationOrActivationLayer()
        case "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum":
            return .merge(MergeOperation(rawValue: className)!)
        case "Concatenate":
            guard let item = keys.take("axis"), !item.isNull else { return .concatenate(axis: -1) }
            guard let axis = item.intValue, axis != 0 else { throw fail("axis", "must be a non-zero integer (0 is the batch)") }
            return .concatenate(axis: axis)
        case let name where SpatialLayer.classNames.contains(name):
            return .spatial(try readSpatial())
        default:
            refusals.append(ConfigRefusal(scope: keys.scope, key: "class_name", value: .string(className),
                                          reason: "is not a layer Relapse computes"))
            return .unsupported
        }
    }

    /// Keys every Keras layer has.
    mutating func readCommonKeys() {
        keys.accept("name")
        if let value = keys.take("trainable"), !value.isNull {
            if let flag = value.boolValue { training.trainable = flag } else { refuse("trainable", "must be true or false") }
        }
        // Relapse computes in float32; Keras writes the dtype as a string (Keras 2, tf.keras) or a
        // DTypePolicy / mixed-precision Policy object whose config names it (tf.keras, Keras 3).
        if let value = keys.take("dtype"), !value.isNull {
            let policy = value.stringValue ?? value["config"]?["name"]?.stringValue
            if policy != "float32" { refuse("dtype", "is not supported (Relapse computes in float32)") }
        }
        // The shape the layer was first built for (Sequential's first layer); the network
        // infers every shape from the input layer and checks them.
        keys.accept("batch_input_shape", "batch_shape", "input_dim", "input_shape")
    }

    /// Initializers, regularizers and constraints of a layer's weights (and its activity).
    /// `names`: the weight a key prefix configures where they differ ("depthwise" ->
    /// "depthwise_kernel").
    mutating func readWeightSettings(weights: [String], names: [String: String] = [:]) throws {
        for prefix in weights {
            let weight = names[prefix] ?? prefix
            // Initializers draw a model's first weights; they matter only when Relapse
            // initialises a `model.to_json()` architecture, where `Initializer.parse` reads them.
            keys.accept("\(prefix)_initializer")
            if let value = keys.take("\(prefix)_regularizer"), !value.isNull {
                switch WeightSettingsParser.regularizer(value) {
                case .success(let r): training.weightRegularizers[weight] = r
                case .failure(let reason): refuse("\(prefix)_regularizer", reason.text)
                }
            }
            if let value = keys.take("\(prefix)_constraint"), !value.isNull {
                switch WeightSettingsParser.constraint(value) {
                case .success(let c): training.constraints[weight] = c
                case .failure(let reason): refuse("\(prefix)_constraint", reason.text)
                }
            }
        }
        if let value = keys.take("activity_regularizer"), !value.isNull {
            switch WeightSettingsParser.regularizer(value) {
            case .success(let r): training.activityRegularizer = r
            case .failure(let reason): refuse("activity_regularizer", reason.text)
            }
        }
    }

    // MARK: Typed keys

    mutating func int(_ key: String) throws -> Int {
        guard let n = keys.take(key)?.intValue, n > 0 else { throw fail(key, "must be a positive integer") }
        return n
    }

    mutating func positiveInt(_ key: String, default value: Int) throws -> Int {
        guard let item = keys.take(key), !item.isNull else { return value }
        guard let n = item.intValue, n > 0 else { throw fail(key, "must be a positive integer") }
        return n
    }

    mutating func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let item = keys.take(key), !item.isNull else { return value }
        guard let b = item.boolValue else { throw fail(key, "must be true or false") }
        return b
    }

    mutating func intList(_ key: String) throws -> [Int] {
        guard let items = keys.take(key)?.arrayValue else { throw fail(key, "is missing") }
        return try items.map {
            guard let n = $0.intValue, n > 0 || n == -1 else { throw fail(key, "must hold positive sizes (or -1)") }
            return n
        }
    }

    /// A (height, width) pair written as a list or as one number for both.
    mutating func pair(_ key: String, default value: (Int, Int)? = nil) throws -> (Int, Int) {
        guard let item = keys.take(key), !item.isNull else {
            if let value { return value }
            throw fail(key, "is missing")
        }
        if let n = item.intValue, n > 0 { return (n, n) }
        guard let items = item.arrayValue, items.count == 2, let a = items[0].intValue, let b = items[1].intValue, a > 0, b > 0 else {
            throw fail(key, "must be two positive integers")
        }
        return (a, b)
    }

    mutating func padding() throws -> Padding {
        guard let text = keys.take("padding")?.stringValue else { return .valid }
        guard let padding = Padding(rawValue: text.lowercased()) else { throw fail("padding", "'\(text)' is not valid or same") }
        return padding
    }

    /// Keras's default data format is channels_last (`image_data_format` in keras.json).
    mutating func dataFormat() throws -> DataFormat {
        guard let item = keys.take("data_format"), !item.isNull else { return .channelsLast }
        guard let text = item.stringValue, let format = DataFormat(rawValue: text) else {
            throw fail("data_format", "'\(item.serialized())' is not channels_first or channels_last")
        }
        return format
    }

    /// An activation Relapse computes; another one is refused (and `.linear` stands in, never built).
    mutating func activation(_ key: String, default value: ActivationFunction? = nil) throws -> ActivationFunction {
        guard let item = keys.take(key), !item.isNull else {
            if let value { return value }
            throw fail(key, "is missing")
        }
        // Keras 3 may serialise a built-in activation as {"class_name": "function", "config": "relu", ...}.
        let name = item.stringValue ?? item["config"]?.stringValue ?? item["class_name"]?.stringValue
        guard let name, name != ActivationFunction.hardSigmoidKeras3.rawValue, let function = ActivationFunction(rawValue: name) else {
            let names = ActivationFunction.allCases.filter { $0 != .hardSigmoidKeras3 }.map(\.rawValue)
            refuse(key, "is not supported (Relapse computes \(names.joined(separator: ", ")))")
            return .linear
        }
        // Keras 3 redefined hard_sigmoid (relu6(x + 3) / 6; `hard_sigmoid` in keras/src/backend/*/nn.py).
        return function == .hardSigmoid && generation == .keras3 ? .hardSigmoidKeras3 : function
    }
}
