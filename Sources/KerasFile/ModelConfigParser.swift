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
            var spec = try LayerParser.parse(entry)
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
        var definition = ModelDefinition(className: "Sequential", name: name, layers: layers,
                                         inputs: [TensorRef(layer: first.name)], outputs: [TensorRef(layer: last.name)], config: root)
        // The shape Keras 3 built the model for; the network infers it from the input layer.
        readModelKeys(config, into: &definition, handled: ["layers", "build_input_shape"])
        return definition
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
            var spec = try LayerParser.parse(entry)
            let (nodes, refusals) = try inboundNodes(entry["inbound_nodes"], layer: spec)
            spec.inboundNodes = nodes
            spec.refusals += refusals
            layers.append(spec)
        }
        let names = Set(layers.map(\.name))
        for layer in layers {
            for ref in layer.inboundNodes.joined() where !names.contains(ref.layer) {
                throw Failure("layer '\(layer.name)' takes input from unknown layer '\(ref.layer)'")
            }
        }
        let inputs = try tensorList(config["input_layers"], what: "input_layers")
        let outputs = try tensorList(config["output_layers"], what: "output_layers")
        for ref in inputs + outputs where !names.contains(ref.layer) {
            throw Failure("model input/output names unknown layer '\(ref.layer)'")
        }
        var definition = ModelDefinition(className: className, name: name, layers: layers, inputs: inputs, outputs: outputs, config: root)
        readModelKeys(config, into: &definition, handled: ["layers", "input_layers", "output_layers"])
        return definition
    }

    /// The model's own keys besides its layers: `trainable: false` freezes every layer (Keras's
    /// `Model.trainable` setter sets it on each), a non-float32 `dtype` is refused, the rest by name.
    private static func readModelKeys(_ config: JSONValue, into definition: inout ModelDefinition, handled: [String]) {
        guard config.objectValue != nil else { return }
        var keys = ConfigKeys(config, scope: "model '\(definition.name)'")
        for key in handled { keys.accept(key) }
        keys.accept("name")
        var refusals: [ConfigRefusal] = []
        if let value = keys.take("trainable"), !value.isNull {
            if let flag = value.boolValue {
                if !flag { for i in definition.layers.indices { definition.layers[i].training.trainable = false } }
            } else {
                refusals.append(keys.refusal("trainable", "must be true or false"))
            }
        }
        if let value = keys.take("dtype"), !value.isNull,
           (value.stringValue ?? value["config"]?["name"]?.stringValue) != "float32" {
            refusals.append(keys.refusal("dtype", "is not supported (Relapse computes in float32)"))
        }
        definition.modelRefusals = refusals + keys.leftovers()
    }

    /// A functional layer's calls, each with the tensors it consumes. Keras 2 and tf.keras:
    /// `[[["name", node, tensor, {kwargs}], ...], ...]`; Keras 3: `[{"args": [{"class_name":
    /// "__keras_tensor__", "config": {"keras_history": [...]}}, ...], "kwargs": {...}}, ...]`.
    /// Call arguments other than tensors (`training=True`, say) would change what the layer
    /// computes: they are refused by name unless null.
    private static func inboundNodes(_ nodes: JSONValue?, layer spec: LayerSpec) throws -> (nodes: [[TensorRef]], refusals: [ConfigRefusal]) {
        guard let nodes = nodes?.arrayValue else { return ([], []) }
        let layer = spec.name
        var refusals: [ConfigRefusal] = []
        func checkKwargs(_ kwargs: JSONValue?, keras3: Bool = false) {
            // Keras 3 records `training` for every layer whose call takes it (False from the
            // symbolic build), and its Functional overrides it with fit's or predict's own value
            // (`operation_fn` in keras/src/models/functional.py): it cannot change the math.
            for (key, value) in kwargs?.objectValue ?? [] where !value.isNull && !(keras3 && key == "training") {
                refusals.append(ConfigRefusal(scope: "layer '\(layer)' (\(spec.className))", key: "call argument \(key)", value: value))
            }
        }
        let parsed: [[TensorRef]] = try nodes.map { node in
            if let list = node.arrayValue {
                return try list.map { item in
                    checkKwargs(item[3])
                    return try tensorRef(item, what: "inbound node of '\(layer)'")
                }
            }
            guard let args = node["args"]?.arrayValue else { throw Failure("layer '\(layer)' has an unreadable inbound node") }
            checkKwargs(node["kwargs"], keras3: true)
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
        return (parsed, refusals)
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

    /// `batch_input_shape` (Keras 2) or `batch_shape` (Keras 3); nil if the layer has neither.
    public static func batchShape(in config: JSONValue) throws -> [Int?]? {
        guard let value = config["batch_input_shape"] ?? config["batch_shape"], let items = value.arrayValue else { return nil }
        return try items.map { item in
            if item.isNull { return nil }
            guard let n = item.intValue, n > 0 else { throw Failure("batch shape \(value.serialized()) is not a list of positive sizes") }
            return n
        }
    }
}
