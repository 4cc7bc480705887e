/// Parses `model_config` JSON in the three dialects users bring: Keras 2.2 ("Model",
/// `batch_input_shape`, list-form `inbound_nodes`), tf.keras 2.x ("Functional") and Keras 3
/// (`batch_shape`, `module` keys, dict-form `inbound_nodes` with `keras_history`).
public enum ModelConfigParser {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    public static func parse(_ text: String) throws -> ModelDefinition {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw Failure("model_config is not valid JSON (\(error))")
        }
        return try parse(json)
    }

    public static func parse(_ json: JSONValue) throws -> ModelDefinition {
        guard let className = json["class_name"]?.stringValue, let config = json["config"] else {
            throw Failure("model_config has no class_name/config")
        }
        switch className {
        case "Sequential":
            return try parseSequential(config, root: json)
        case "Functional", "Model":
            return try parseFunctional(config, className: className, root: json)
        default:
            throw Failure("model class '\(className)' is not supported (only Sequential and functional models)")
        }
    }

    // MARK: Sequential

    private static func parseSequential(_ config: JSONValue, root: JSONValue) throws -> ModelDefinition {
        // Keras 2.0/2.1 stored the layer list itself as the config.
        let layerList = config["layers"]?.arrayValue ?? config.arrayValue
        guard let layerList else { throw Failure("Sequential model_config has no layers") }
        let name = config["name"]?.stringValue ?? "sequential"
        var layers: [LayerSpec] = []
        for entry in layerList {
            var spec = try parseLayer(entry)
            if layers.isEmpty, !isInput(spec) {
                // No InputLayer in the config: Keras builds one from the first layer's batch shape.
                guard let shape = try batchShape(in: spec.config) else {
                    throw Failure("Sequential model '\(name)' has no input shape (first layer '\(spec.name)' has no batch_input_shape)")
                }
                let inputName = spec.name + "_input"
                layers.append(LayerSpec(name: inputName, className: "InputLayer", kind: .input(batchShape: shape),
                                        inbound: [], config: .object([("name", .string(inputName))])))
            }
            if let previous = layers.last { spec.inbound = [TensorRef(layer: previous.name)] }
            layers.append(spec)
        }
        guard let first = layers.first, let last = layers.last else { throw Failure("Sequential model '\(name)' has no layers") }
        return ModelDefinition(className: "Sequential", name: name, layers: layers,
                               inputs: [TensorRef(layer: first.name)], outputs: [TensorRef(layer: last.name)], config: root)
    }

    private static func isInput(_ spec: LayerSpec) -> Bool {
        if case .input = spec.kind { return true }
        return false
    }

    // MARK: Functional

    private static func parseFunctional(_ config: JSONValue, className: String, root: JSONValue) throws -> ModelDefinition {
        guard let layerList = config["layers"]?.arrayValue else { throw Failure("model_config has no layers") }
        let name = config["name"]?.stringValue ?? "model"
        var layers: [LayerSpec] = []
        for entry in layerList {
            var spec = try parseLayer(entry)
            spec.inbound = try inboundTensors(entry["inbound_nodes"], layer: spec.name)
            layers.append(spec)
        }
        let names = Set(layers.map(\.name))
        for layer in layers {
            for ref in layer.inbound where !names.contains(ref.layer) {
                throw Failure("layer '\(layer.name)' takes input from unknown layer '\(ref.layer)'")
            }
        }
        let inputs = try tensorList(config["input_layers"], what: "input_layers")
        let outputs = try tensorList(config["output_layers"], what: "output_layers")
        for ref in inputs + outputs where !names.contains(ref.layer) {
            throw Failure("model input/output names unknown layer '\(ref.layer)'")
        }
        return ModelDefinition(className: className, name: name, layers: layers, inputs: inputs, outputs: outputs, config: root)
    }

    /// A functional layer's inputs from its first node. Keras 2: `[[["name", 0, 0, {}], ...]]`;
    /// Keras 3: `[{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}], "kwargs": {}}]`.
    private static func inboundTensors(_ nodes: JSONValue?, layer: String) throws -> [TensorRef] {
        guard let nodes = nodes?.arrayValue, let first = nodes.first else { return [] }
        if nodes.count > 1 { throw Failure("layer '\(layer)' is called more than once (shared layers are not supported)") }
        if let list = first.arrayValue {
            return try list.map { try tensorRef($0, what: "inbound node of '\(layer)'") }
        }
        guard let args = first["args"]?.arrayValue else { throw Failure("layer '\(layer)' has an unreadable inbound node") }
        var refs: [TensorRef] = []
        func collect(_ value: JSONValue) throws {
            if value["class_name"]?.stringValue == "__keras_tensor__", let history = value["config"]?["keras_history"] {
                refs.append(try tensorRef(history, what: "inbound node of '\(layer)'"))
            } else if let items = value.arrayValue {
                try items.forEach(collect)
            }
        }
        try args.forEach(collect)
        return refs
    }

    /// `input_layers`/`output_layers`: a list of [name, node, tensor], or (Keras 3, one tensor) just one.
    private static func tensorList(_ value: JSONValue?, what: String) throws -> [TensorRef] {
        guard let items = value?.arrayValue, !items.isEmpty else { throw Failure("model_config has no \(what)") }
        if items.first?.stringValue != nil { return [try tensorRef(.array(items), what: what)] }
        return try items.map { try tensorRef($0, what: what) }
    }

    private static func tensorRef(_ value: JSONValue, what: String) throws -> TensorRef {
        guard let items = value.arrayValue, let name = items.first?.stringValue else {
            throw Failure("\(what) is not a [layer, node, tensor] reference")
        }
        return TensorRef(layer: name, nodeIndex: items.count > 1 ? items[1].intValue ?? 0 : 0,
                         tensorIndex: items.count > 2 ? items[2].intValue ?? 0 : 0)
    }

    // MARK: Layers

    static func parseLayer(_ entry: JSONValue) throws -> LayerSpec {
        guard let className = entry["class_name"]?.stringValue, let config = entry["config"] else {
            throw Failure("a layer in model_config has no class_name/config")
        }
        guard let name = config["name"]?.stringValue ?? entry["name"]?.stringValue else {
            throw Failure("a \(className) layer has no name")
        }
        let layer = LayerConfigReader(config: config, layer: name, className: className)
        let kind: LayerKind
        switch className {
        case "InputLayer":
            guard let shape = try batchShape(in: config) else { throw Failure("InputLayer '\(name)' has no batch shape") }
            kind = .input(batchShape: shape)
        case "Activation":
            kind = .activation(try layer.activation("activation"))
        case "Conv2D", "Convolution2D":
            kind = .conv2D(Conv2DSpec(
                filters: try layer.int("filters"), kernelSize: try layer.pair("kernel_size"),
                strides: try layer.pair("strides", default: (1, 1)), padding: try layer.padding(),
                dataFormat: try layer.dataFormat(), dilationRate: try layer.pair("dilation_rate", default: (1, 1)),
                activation: try layer.activation("activation", default: .linear),
                useBias: try layer.bool("use_bias", default: true)))
        case "MaxPooling2D", "MaxPool2D":
            let pool = try layer.pair("pool_size", default: (2, 2))
            kind = .maxPooling2D(Pooling2DSpec(
                poolSize: pool, strides: try layer.pair("strides", default: pool),
                padding: try layer.padding(), dataFormat: try layer.dataFormat()))
        case "Reshape":
            kind = .reshape(targetShape: try layer.intList("target_shape"))
        case "Flatten":
            kind = .flatten(try layer.dataFormat())
        case "Dense":
            kind = .dense(DenseSpec(units: try layer.int("units"), activation: try layer.activation("activation", default: .linear),
                                    useBias: try layer.bool("use_bias", default: true)))
        case "Dropout":
            if let noise = config["noise_shape"], !noise.isNull {
                throw Failure("Dropout '\(name)' uses noise_shape, which Relapse does not support")
            }
            guard let rate = config["rate"]?.doubleValue, (0..<1).contains(rate) else {
                throw Failure("Dropout '\(name)' has no valid rate")
            }
            kind = .dropout(rate: rate, seed: config["seed"]?.intValue)
        default:
            throw Failure("unknown layer class '\(className)' (layer '\(name)')")
        }
        return LayerSpec(name: name, className: className, kind: kind, inbound: [], config: config)
    }

    /// `batch_input_shape` (Keras 2) or `batch_shape` (Keras 3); nil if the layer has neither.
    static func batchShape(in config: JSONValue) throws -> [Int?]? {
        guard let value = config["batch_input_shape"] ?? config["batch_shape"], let items = value.arrayValue else { return nil }
        return try items.map { item in
            if item.isNull { return nil }
            guard let n = item.intValue, n > 0 else { throw Failure("batch shape \(value.serialized()) is not a list of positive sizes") }
            return n
        }
    }
}

/// Typed access to one layer's config, with errors that name the layer and the key.
struct LayerConfigReader {
    let config: JSONValue
    let layer: String
    let className: String

    private func fail(_ key: String, _ problem: String) -> ModelConfigParser.Failure {
        ModelConfigParser.Failure("\(className) '\(layer)': \(key) \(problem)")
    }

    func int(_ key: String) throws -> Int {
        guard let n = config[key]?.intValue, n > 0 else { throw fail(key, "must be a positive integer") }
        return n
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let item = config[key], !item.isNull else { return value }
        guard let b = item.boolValue else { throw fail(key, "must be true or false") }
        return b
    }

    func intList(_ key: String) throws -> [Int] {
        guard let items = config[key]?.arrayValue else { throw fail(key, "is missing") }
        return try items.map {
            guard let n = $0.intValue, n > 0 || n == -1 else { throw fail(key, "must hold positive sizes (or -1)") }
            return n
        }
    }

    /// A (height, width) pair written as a list or as one number for both.
    func pair(_ key: String, default value: (Int, Int)? = nil) throws -> (Int, Int) {
        guard let item = config[key], !item.isNull else {
            if let value { return value }
            throw fail(key, "is missing")
        }
        if let n = item.intValue, n > 0 { return (n, n) }
        guard let items = item.arrayValue, items.count == 2, let a = items[0].intValue, let b = items[1].intValue, a > 0, b > 0 else {
            throw fail(key, "must be two positive integers")
        }
        return (a, b)
    }

    func padding() throws -> Padding {
        guard let text = config["padding"]?.stringValue else { return .valid }
        guard let padding = Padding(rawValue: text.lowercased()) else { throw fail("padding", "'\(text)' is not valid or same") }
        return padding
    }

    /// Keras's default data format is channels_last (`image_data_format` in keras.json).
    func dataFormat() throws -> DataFormat {
        guard let item = config["data_format"], !item.isNull else { return .channelsLast }
        guard let text = item.stringValue, let format = DataFormat(rawValue: text) else {
            throw fail("data_format", "'\(item.serialized())' is not channels_first or channels_last")
        }
        return format
    }

    func activation(_ key: String, default value: ActivationFunction? = nil) throws -> ActivationFunction {
        guard let item = config[key], !item.isNull else {
            if let value { return value }
            throw fail(key, "is missing")
        }
        // Keras 3 may serialise a built-in activation as {"class_name": "function", "config": "relu", ...}.
        let name = item.stringValue ?? item["config"]?.stringValue ?? item["class_name"]?.stringValue
        guard let name, let function = ActivationFunction(rawValue: name) else {
            throw fail(key, "'\(item.serialized())' is not supported (linear, relu, sigmoid, softmax, tanh)")
        }
        return function
    }
}
