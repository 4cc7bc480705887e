/// Parses `model_config` JSON in the three dialects users bring: Keras 2.2 ("Model",
/// `batch_input_shape`, list-form `inbound_nodes`), tf.keras 2.x ("Functional") and Keras 3
/// (`batch_shape`, `module` keys, dict-form `inbound_nodes` with `keras_history`).
public enum ModelConfigParser {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// `generation`: the Keras that wrote the config (`Producer.generation`); a few layers and
    /// activations compute differently in each.
    public static func parse(_ text: String, generation: KerasGeneration = .tfKeras) throws -> ModelDefinition {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw Failure("model_config is not valid JSON (\(error))")
        }
        return try parse(json, generation: generation)
    }

    public static func parse(_ json: JSONValue, generation: KerasGeneration = .tfKeras) throws -> ModelDefinition {
        try parse(json, generation: generation, depth: 0)
    }

    /// Model classes that may also appear as a layer of another model.
    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    private static func parse(_ json: JSONValue, generation: KerasGeneration, depth: Int) throws -> ModelDefinition {
        guard let className = json["class_name"]?.stringValue, let config = json["config"] else {
            throw Failure("model_config has no class_name/config")
        }
        guard depth < 32 else { throw Failure("model_config nests models more than 32 deep") }
        switch className {
        case "Sequential":
            return try parseSequential(config, root: json, generation: generation, depth: depth)
        case "Functional", "Model":
            return try parseFunctional(config, className: className, root: json, generation: generation, depth: depth)
        default:
            throw Failure("model class '\(className)' is not supported (only Sequential and functional models)")
        }
    }

    /// A layer entry, or (a model used as a layer) a placeholder named after it and its parse.
    private static func parseEntry(_ entry: JSONValue, generation: KerasGeneration, depth: Int) throws -> (LayerSpec, ModelDefinition?) {
        guard let className = entry["class_name"]?.stringValue, modelClasses.contains(className) else {
            return (try LayerParser.parse(entry, generation: generation), nil)
        }
        let inner = try parse(entry, generation: generation, depth: depth + 1)
        let name = entry["config"]?["name"]?.stringValue ?? entry["name"]?.stringValue ?? inner.name
        // Its `trainable: false` already froze its layers (readModelKeys of the inner parse).
        return (LayerSpec(name: name, className: className, kind: .unsupported, inbound: [], config: entry["config"] ?? .null), inner)
    }

    // MARK: Sequential

    private static func parseSequential(_ config: JSONValue, root: JSONValue, generation: KerasGeneration, depth: Int) throws -> ModelDefinition {
        // Keras 2.0/2.1 stored the layer list itself as the config.
        let layerList = config["layers"]?.arrayValue ?? config.arrayValue
        guard let layerList else { throw Failure("Sequential model_config has no layers") }
        let name = config["name"]?.stringValue ?? "sequential"
        var layers: [LayerSpec] = []
        var nested: [String: NestedModels.Call] = [:]
        var saved: [SavedLayer] = []
        for entry in layerList {
            var (spec, inner) = try parseEntry(entry, generation: generation, depth: depth)
            if let inner {
                if let previous = layers.last { spec.inbound = [TensorRef(layer: previous.name)] }
                nested[spec.name] = NestedModels.Call(outer: spec, inner: inner)
                layers.append(spec)
                saved.append(.model(name: spec.name, className: spec.className, layers: inner.savedLayers))
                continue
            }
            // Sequential.layers hides the InputLayer at the bottom of the stack.
            if !isInput(spec), !isOperation(entry) { saved.append(.layer(name: spec.name, className: spec.className)) }
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
        var inputs = [TensorRef(layer: first.name)], outputs = [TensorRef(layer: last.name)]
        var weightGroups: [String: [String]] = [:]
        var nestedRefusals: [ConfigRefusal] = []
        if !nested.isEmpty {
            if nested[first.name] != nil { inputs = nested[first.name]!.inner.inputs }
            (layers, weightGroups, nestedRefusals) = try NestedModels.inline(layers, nested: nested, outputs: &outputs, listForm: false)
        }
        var definition = ModelDefinition(className: "Sequential", name: name, layers: layers,
                                         inputs: inputs, outputs: outputs, config: root)
        definition.inputGrouping = .single
        definition.outputGrouping = .single
        definition.weightGroups = weightGroups
        definition.wiredByInbound = !nested.isEmpty
        definition.savedLayers = saved
        // The shape Keras 3 built the model for; the network infers it from the input layer.
        readModelKeys(config, into: &definition, handled: ["layers", "build_input_shape"])
        definition.modelRefusals += nestedRefusals
        return definition
    }

    private static func isInput(_ spec: LayerSpec) -> Bool {
        if case .input = spec.kind { return true }
        return false
    }

    /// A Keras 3 operation written into a functional config (`x + 3.0` as `keras.src.ops.numpy.Add`):
    /// computed like a layer, but no `Layer` (keras/src/models/functional.py `layers`).
    private static func isOperation(_ entry: JSONValue) -> Bool {
        entry["module"]?.stringValue?.hasPrefix("keras.src.ops") ?? false
    }

    // MARK: Functional

    private static func parseFunctional(_ config: JSONValue, className: String, root: JSONValue, generation: KerasGeneration, depth: Int) throws -> ModelDefinition {
        guard let layerList = config["layers"]?.arrayValue else { throw Failure("model_config has no layers") }
        let name = config["name"]?.stringValue ?? "model"
        var layers: [LayerSpec] = []
        var nested: [String: NestedModels.Call] = [:]
        var saved: [SavedLayer] = []
        var listForm = false
        for entry in layerList {
            var (spec, inner) = try parseEntry(entry, generation: generation, depth: depth)
            if let inner {
                saved.append(.model(name: spec.name, className: spec.className, layers: inner.savedLayers))
            } else if !isOperation(entry) {
                saved.append(.layer(name: spec.name, className: spec.className))
            }
            let parsedNodes: (nodes: [[TensorRef]], training: [Bool?], refusals: [ConfigRefusal], scalar: LayerKind?)
            do {
                parsedNodes = try inboundNodes(entry["inbound_nodes"], layer: spec)
            } catch where inner == nil && spec.kind == .unsupported {
                // A refused class (TFOpLambda's call carries constants where tensors go): its
                // refusal already stops the model; its wiring is not read.
                parsedNodes = ([], [], [], nil)
            }
            let (nodes, modes, refusals, scalar) = parsedNodes
            if let scalar { spec.kind = scalar }
            if entry["inbound_nodes"]?.arrayValue?.first?.arrayValue != nil { listForm = true }
            spec.inboundNodes = nodes
            spec.callTraining = modes
            spec.refusals += refusals
            if let inner { nested[spec.name] = NestedModels.Call(outer: spec, inner: inner) }
            layers.append(spec)
        }
        let names = Set(layers.map(\.name))
        for layer in layers where layer.kind != .unsupported || nested[layer.name] != nil {
            for ref in layer.inboundNodes.joined() where !names.contains(ref.layer) {
                throw Failure("layer '\(layer.name)' takes input from unknown layer '\(ref.layer)'")
            }
        }
        let (inputs, inputGrouping) = try tensorList(config["input_layers"], what: "input_layers")
        var (outputs, outputGrouping) = try tensorList(config["output_layers"], what: "output_layers")
        for ref in inputs + outputs where !names.contains(ref.layer) {
            throw Failure("model input/output names unknown layer '\(ref.layer)'")
        }
        var weightGroups: [String: [String]] = [:]
        var nestedRefusals: [ConfigRefusal] = []
        if !nested.isEmpty {
            (layers, weightGroups, nestedRefusals) = try NestedModels.inline(layers, nested: nested, outputs: &outputs, listForm: listForm)
        }
        var definition = ModelDefinition(className: className, name: name, layers: layers, inputs: inputs, outputs: outputs, config: root)
        definition.inputGrouping = inputGrouping
        definition.outputGrouping = outputGrouping
        definition.weightGroups = weightGroups
        definition.savedLayers = saved
        readModelKeys(config, into: &definition, handled: ["layers", "input_layers", "output_layers"])
        definition.modelRefusals += nestedRefusals
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

    /// A functional layer's calls, each with the tensors it consumes and the training mode it
    /// was called with. Keras 2 and tf.keras: `[[["name", node, tensor, {kwargs}], ...], ...]`;
    /// Keras 3: `[{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history":
    /// [...]}}, ...], "kwargs": {...}}, ...]`. A `training` argument written by tf.keras is
    /// explicit and wins over the model's mode (`_set_training_mode` in
    /// tf_keras/src/engine/base_layer.py: Monte Carlo dropout); Keras 3 writes `training` for
    /// every call but its `Functional.call` passes the model's mode over it whenever one is given,
    /// as `fit`, `evaluate` and `predict` do (`operation_fn` in keras/src/models/functional.py).
    /// Any other non-null call argument would change what the layer computes: refused by name.
    private static func inboundNodes(_ nodes: JSONValue?, layer spec: LayerSpec) throws
        -> (nodes: [[TensorRef]], training: [Bool?], refusals: [ConfigRefusal], scalar: LayerKind?) {
        guard let nodes = nodes?.arrayValue else { return ([], [], [], nil) }
        let layer = spec.name
        var refusals: [ConfigRefusal] = []
        var scalar: LayerKind?
        func readKwargs(_ kwargs: JSONValue?, explicitTraining: Bool) -> Bool? {
            var training: Bool?
            for (key, value) in kwargs?.objectValue ?? [] where !value.isNull {
                if key == "training", let flag = value.boolValue {
                    if explicitTraining { training = flag }
                    continue
                }
                refusals.append(ConfigRefusal(scope: "layer '\(layer)' (\(spec.className))", key: "call argument \(key)", value: value))
            }
            return training
        }
        var modes: [Bool?] = []
        let parsed: [[TensorRef]] = try nodes.map { node in
            if let list = node.arrayValue {
                var mode: Bool?
                let refs = try list.map { item in
                    mode = readKwargs(item[3], explicitTraining: true) ?? mode
                    return try tensorRef(item, what: "inbound node of '\(layer)'")
                }
                modes.append(mode)
                return refs
            }
            guard let args = node["args"]?.arrayValue else { throw Failure("layer '\(layer)' has an unreadable inbound node") }
            modes.append(readKwargs(node["kwargs"], explicitTraining: false))
            var refs: [TensorRef] = []
            func collect(_ value: JSONValue) throws {
                if value["class_name"]?.stringValue == "__keras_tensor__", let history = value["config"]?["keras_history"] {
                    refs.append(try tensorRef(history, what: "inbound node of '\(layer)'"))
                } else if let items = value.arrayValue {
                    try items.forEach(collect)
                }
            }
            try args.forEach(collect)
            // Keras 3 writes `x + 3.0` on a symbolic tensor as an operation of the merge's class
            // name (`keras.src.ops.numpy.Add`) called on the tensor and a number.
            let numbers = args.compactMap(\.doubleValue)
            if case .merge(let operation) = spec.kind, !numbers.isEmpty {
                guard refs.count == 1, numbers.count == 1, args.count == 2, operation != .average else {
                    refusals.append(ConfigRefusal(scope: "layer '\(layer)' (\(spec.className))", key: "call arguments",
                                                  value: .array(args.filter { $0.doubleValue != nil })))
                    return refs
                }
                scalar = .scalar(operation, constant: numbers[0], tensorFirst: args[0].doubleValue == nil)
            } else if !numbers.isEmpty {
                refusals.append(ConfigRefusal(scope: "layer '\(layer)' (\(spec.className))", key: "call arguments",
                                              value: .array(args.filter { $0.doubleValue != nil })))
            }
            return refs
        }
        return (parsed, modes, refusals, scalar)
    }

    /// `input_layers`/`output_layers` in the forms Keras writes them (`get_network_config` in
    /// tf_keras/src/engine/functional.py, `Functional.get_config` in keras/src/models/functional.py):
    /// one [name, node, tensor] (Keras 3, one tensor), a list of them (Keras 2, tf.keras, Keras 3),
    /// or a dict of them (a model built on a dict of tensors), flattened with the keys sorted as
    /// `tf.nest.flatten` and Keras 3's `tree.flatten` order them. Deeper nesting (a list of
    /// lists) is refused by name.
    static func tensorList(_ value: JSONValue?, what: String) throws -> ([TensorRef], TensorGrouping) {
        guard let value, !value.isNull else { throw Failure("model_config has no \(what)") }
        if let pairs = value.objectValue {
            guard !pairs.isEmpty else { throw Failure("model_config has no \(what)") }
            let sorted = pairs.sorted { $0.0 < $1.0 }
            let refs = try sorted.map { key, item in
                guard isTensorRef(item) else { throw nested(what, value) }
                return try tensorRef(item, what: "\(what) entry '\(key)'")
            }
            return (refs, .dict(keys: sorted.map(\.0)))
        }
        guard let items = value.arrayValue, !items.isEmpty else { throw Failure("model_config has no \(what)") }
        if items.first?.stringValue != nil { return ([try tensorRef(value, what: what)], .single) }
        return (try items.map { item in
            guard isTensorRef(item) else { throw nested(what, value) }
            return try tensorRef(item, what: what)
        }, .list)
    }

    /// A [name, node, tensor] reference (not a list or dict of them).
    private static func isTensorRef(_ value: JSONValue) -> Bool {
        value.arrayValue?.first?.stringValue != nil
    }

    private static func nested(_ what: String, _ value: JSONValue) -> Failure {
        Failure("\(what) = \(value.serialized()) nests tensors more than one level deep; Relapse reads one tensor, a list or a dict of them")
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
