import HDF5

/// A Keras 3 model made into a tf-keras one for `relapse convert --dialect tf-keras`: the
/// architecture in tf-keras's config dialect (what tf-keras 2.21's `get_config` writes for the
/// same layers: tools/keras3_formats.py has tf-keras load each converted file), the optimizer
/// config in tf-keras 2.11+'s keys, every weight and optimizer slot carried over bit for bit.
/// The config is rewritten as JSON, nested models kept as models. What tf-keras has no
/// equivalent for is refused by name; from then on the model trains with tf-keras's math
/// (its loss semantics, BatchNormalization's moving variance), as any tf-keras file does.
extension KerasModel {
    public func convertedToTFKeras() throws -> KerasModel {
        switch producer {
        case .tfKeras, .keras2, .unknown:
            // tf-keras reads Keras 2.2's and its own configs; the legacy writer puts the
            // training config in its dialect.
            return self
        case .keras3:
            break
        }
        guard let modelConfigJSON else {
            throw ModelConfigParser.Failure("a weights-only file cannot be converted (it has no architecture)")
        }
        var model = self
        let config = try TFKerasDialect.model(try JSONValue.parse(modelConfigJSON))
        model.modelConfigJSON = config.serialized()
        model.definition = try ModelConfigParser.parse(config, generation: .tfKeras)
        model.kerasVersion = TFKerasDialect.version
        model.producer = .tfKeras(version: TFKerasDialect.version)
        model.backend = "tensorflow"
        // tf-keras names its variables `<layer>/<weight>:0`; Keras 3 leaves out the `:0`.
        model.layerWeights = layerWeights.map { group in
            LayerWeights(layerName: group.layerName, weights: group.weights.map {
                NamedArray(name: OptimizerLayout.withSuffix($0.name), values: $0.values)
            })
        }
        if let trainingConfig {
            let converted = try TrainingConfig(json: try TFKerasDialect.training(trainingConfig))
            model.trainingConfigJSON = converted.tfKerasDialect().serialized()
            model.trainingConfig = try TrainingConfig.parse(model.trainingConfigJSON!)
            // tf-keras's SGD builds its momentums whatever the momentum (tf_keras/src/optimizers/
            // sgd.py `build`); Keras 3's only when it is not 0: zeros, which is what they hold.
            if var state = optimizerState, state.optimizerClass.lowercased() == "sgd", state.slots["m"] == nil,
               state.iterations > 0 || !state.slots.isEmpty {
                state.slots["m"] = model.trainableVariables.map { NumericArray(shape: $0.shape, floats: Array(repeating: 0, count: $0.shape.reduce(1, *))) }
                model.optimizerState = state
            }
        }
        try model.checkOptimizerStateMatchesWeights()
        return model
    }
}

/// Keras 3's config dialect rewritten as tf-keras's (tf-keras 2.21's `get_config`, compared key
/// by key with Keras 3.15's for every layer Relapse computes).
public enum TFKerasDialect {
    /// The tf-keras release whose files Relapse writes and checks against (tools/requirements.txt).
    public static let version = "2.21.0"

    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    /// A model config (top-level or nested entry): its layers, its own keys, its wiring.
    static func model(_ entry: JSONValue) throws -> JSONValue {
        guard let className = entry["class_name"]?.stringValue, modelClasses.contains(className),
              var config = entry["config"], let layers = config["layers"]?.arrayValue else {
            throw ModelConfigParser.Failure("model_config has no model class with layers")
        }
        let name = config["name"]?.stringValue ?? className
        let offsets = Dictionary(layers.compactMap { layer -> (String, Int)? in
            guard let layerName = layer["config"]?["name"]?.stringValue ?? layer["name"]?.stringValue,
                  skipsFirstNode(layer) else { return nil }
            return (layerName, 1)
        }, uniquingKeysWith: { a, _ in a })
        config.set("layers", .array(try layers.map { try layerEntry($0, offsets: offsets) }))
        if let dtype = config["dtype"] { config.set("dtype", try floatDType(dtype, scope: "model '\(name)'")) }
        for key in ["input_layers", "output_layers"] {
            if let refs = config[key] { config.set(key, try tensorList(refs, offsets: offsets, what: "\(key) of model '\(name)'")) }
        }
        var result = entry
        result.remove("compile_config")
        result.set("config", config)
        if className != "Sequential" {
            // tf-keras's registration of its Functional class (keras.src.models.functional is Keras 3's).
            result.set("class_name", .string("Functional"))
            if result["module"] != nil { result.set("module", .string("tf_keras.src.engine.functional")) }
            if result["registered_name"] != nil { result.set("registered_name", .string("Functional")) }
        }
        return result
    }

    /// tf-keras counts a first node of a model built on its own inputs, which its configs leave
    /// out (`_should_skip_first_node` in tf_keras/src/engine/functional.py: a Functional, or a
    /// Sequential whose first layer is an InputLayer); Keras 3 does not. References to such a
    /// model's calls are one higher in tf-keras's dialect.
    static func skipsFirstNode(_ entry: JSONValue) -> Bool {
        switch entry["class_name"]?.stringValue {
        case "Functional", "Model": return true
        case "Sequential":
            guard let first = entry["config"]?["layers"]?[0] else { return false }
            return first["class_name"]?.stringValue == "InputLayer"
                || first["config"]?["batch_shape"] != nil || first["config"]?["batch_input_shape"] != nil
        default: return false
        }
    }

    static func layerEntry(_ entry: JSONValue, offsets: [String: Int]) throws -> JSONValue {
        let className = entry["class_name"]?.stringValue ?? "?"
        let name = entry["config"]?["name"]?.stringValue ?? entry["name"]?.stringValue ?? "?"
        if let module = entry["module"]?.stringValue, module.hasPrefix("keras.src.ops") {
            throw ModelConfigParser.Failure("layer '\(name)' is Keras 3's operation \(module).\(className) (`x + 3.0` on a tensor), which tf-keras has no layer for")
        }
        var result = modelClasses.contains(className) ? try model(entry) : entry
        if !modelClasses.contains(className), let config = entry["config"] {
            result.set("config", try layerConfig(config, className: className, name: name))
        }
        if let nodes = entry["inbound_nodes"]?.arrayValue {
            result.set("inbound_nodes", .array(try nodes.map { try node($0, offsets: offsets, layer: name) }))
        }
        return result
    }

    /// One layer's config: a DTypePolicy is its name, Keras 3's key names are tf-keras's, keys
    /// tf-keras does not have are left out at their default and refused otherwise.
    static func layerConfig(_ config: JSONValue, className: String, name: String) throws -> JSONValue {
        guard case .object(let pairs) = config else { throw ModelConfigParser.Failure("layer '\(name)' has no config object") }
        let scope = "layer '\(name)' (\(className))"
        var result: [(String, JSONValue)] = []
        for (key, value) in pairs {
            switch (className, key) {
            case (_, "dtype"):
                result.append((key, try floatDType(value, scope: scope)))
            case ("InputLayer", "batch_shape"):
                result.append(("batch_input_shape", value))
            case ("InputLayer", "optional"):
                guard value.isNull || value == .bool(false) else { throw refusal(scope, key, value) }
            case ("LeakyReLU", "negative_slope"):
                result.append(("alpha", value))  // tf-keras's name for the slope.
            case (_, "quantization_config"):
                guard value.isNull else { throw refusal(scope, key, value) }
            case (_, "activation"):
                try checkActivation(value, scope: scope)
                result.append((key, value))
            case (_, _) where key.hasSuffix("_initializer"):
                result.append((key, initializer(value)))
            default:
                result.append((key, value))
            }
        }
        if className == "Activation" { try checkActivation(config["activation"] ?? .null, scope: scope) }
        return .object(result)
    }

    /// Activations whose name means something else in tf-keras, or nothing.
    static func checkActivation(_ value: JSONValue, scope: String) throws {
        switch activationName(value) {
        case "hard_sigmoid":
            // Keras 3: relu6(x + 3) / 6; tf-keras: clip(0.2 x + 0.5, 0, 1) (each's activations.py).
            throw refusal(scope, "activation", value, "computes relu6(x + 3) / 6 in Keras 3 and clip(0.2x + 0.5, 0, 1) in tf-keras; no tf-keras config keeps it")
        case "hard_silu", "hard_swish":
            throw refusal(scope, "activation", value, "has no tf-keras equivalent")
        default:
            return
        }
    }

    /// An activation's name, written as a string or (Keras 3) as {"class_name": "function", "config": name}.
    static func activationName(_ value: JSONValue) -> String? {
        value.stringValue ?? value["config"]?.stringValue ?? value["class_name"]?.stringValue
    }

    /// Initializers never run again on a trained model; Keras 3's `input_axes`/`output_axes`
    /// (3.15's variance-scaling arguments) are not tf-keras arguments and go.
    static func initializer(_ value: JSONValue) -> JSONValue {
        guard var config = value["config"], config.objectValue != nil else { return value }
        config.remove("input_axes")
        config.remove("output_axes")
        var result = value
        result.set("config", config)
        return result
    }

    static func floatDType(_ value: JSONValue, scope: String) throws -> JSONValue {
        let name = value.stringValue ?? value["config"]?["name"]?.stringValue
        guard value.isNull || name == "float32" else { throw refusal(scope, "dtype", value, "has no float32 tf-keras equivalent here") }
        return value.isNull ? value : .string("float32")
    }

    /// A Keras 3 call (`{"args": [keras tensors], "kwargs": {...}}`) as tf-keras's list of
    /// `[layer, node, tensor, kwargs]`. Keras 3 records `training` and `mask` for every call but
    /// its `Functional.call` passes the model's own mode over them (keras/src/models/functional.py
    /// `operation_fn`): tf-keras would honour an explicit `training`, so it goes. Any other
    /// argument changes what the layer computes and is refused.
    static func node(_ node: JSONValue, offsets: [String: Int], layer: String) throws -> JSONValue {
        if node.arrayValue != nil { return node }  // Already tf-keras's form.
        guard let args = node["args"]?.arrayValue else { throw ModelConfigParser.Failure("layer '\(layer)' has an unreadable inbound node") }
        for (key, value) in node["kwargs"]?.objectValue ?? [] where !value.isNull && key != "training" && key != "mask" {
            throw refusal("layer '\(layer)'", "call argument \(key)", value)
        }
        var refs: [JSONValue] = []
        func collect(_ value: JSONValue) throws {
            if value["class_name"]?.stringValue == "__keras_tensor__", let history = value["config"]?["keras_history"] {
                refs.append(try reference(history, offsets: offsets, what: "inbound node of '\(layer)'", kwargs: true))
            } else if let items = value.arrayValue {
                try items.forEach(collect)
            } else if !value.isNull {
                throw refusal("layer '\(layer)'", "call argument", value)
            }
        }
        try args.forEach(collect)
        return .array(refs)
    }

    /// `input_layers`/`output_layers` as tf-keras writes them: a list of [name, node, tensor].
    static func tensorList(_ value: JSONValue, offsets: [String: Int], what: String) throws -> JSONValue {
        guard let items = value.arrayValue, !items.isEmpty else { throw ModelConfigParser.Failure("model_config has no \(what)") }
        let list = items.first?.stringValue != nil ? [value] : items
        return .array(try list.map { try reference($0, offsets: offsets, what: what, kwargs: false) })
    }

    static func reference(_ value: JSONValue, offsets: [String: Int], what: String, kwargs: Bool) throws -> JSONValue {
        guard let items = value.arrayValue, let name = items.first?.stringValue, items.count >= 3,
              let node = items[1].intValue, let tensor = items[2].intValue else {
            throw ModelConfigParser.Failure("\(what) is not a [layer, node, tensor] reference")
        }
        let ref: [JSONValue] = [.string(name), .int(node + offsets[name, default: 0]), .int(tensor)]
        return .array(kwargs ? ref + [.object([])] : ref)
    }

    // MARK: Training

    /// The optimizers both generations have with the same slots (Nadam's differ: Keras 3 keeps a
    /// u_product, and Relapse computes no tf-keras 2.11+ Nadam).
    static let optimizers: Set<String> = ["adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax"]

    /// The training config with the optimizer in tf-keras's keys; compile arguments tf-keras's
    /// training_config has no place for (`run_eagerly`, `steps_per_execution`, `jit_compile`,
    /// `auto_scale_loss`: none changes the math) left out.
    static func training(_ training: TrainingConfig) throws -> JSONValue {
        let className = training.optimizerClass
        let scope = "optimizer \(className)"
        guard optimizers.contains(className.lowercased()) else {
            throw ModelConfigParser.Failure("optimizer \(className) is not converted to tf-keras (its saved state does not carry over exactly)")
        }
        var config: [(String, JSONValue)] = []
        for (key, value) in training.optimizerConfig.objectValue ?? [] {
            switch key {
            case "loss_scale_factor", "gradient_accumulation_steps":
                // Keras 3 only (loss scaling, accumulating gradients over steps).
                guard value.isNull else { throw refusal(scope, key, value, "has no tf-keras equivalent") }
            case "learning_rate" where value.objectValue != nil:
                config.append((key, schedule(value)))
            default:
                config.append((key, value))
            }
        }
        let canonical = ["adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
                         "adadelta": "Adadelta", "adamax": "Adamax"][className.lowercased()]!
        var pairs: [(String, JSONValue)] = []
        for (key, value) in training.json.objectValue ?? [] {
            switch key {
            case "optimizer_config":
                pairs.append((key, .object([("class_name", .string(canonical)), ("config", .object(config))])))
            case "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss":
                continue
            default:
                pairs.append((key, value))
            }
        }
        return .object(pairs)
    }

    /// A learning-rate schedule as tf-keras's legacy deserializer reads it: class name and config.
    static func schedule(_ value: JSONValue) -> JSONValue {
        guard let className = value["class_name"], let config = value["config"] else { return value }
        return .object([("class_name", className), ("config", config)])
    }

    static func refusal(_ scope: String, _ key: String, _ value: JSONValue, _ reason: String = "has no tf-keras equivalent") -> ConfigRefusal {
        ConfigRefusal(scope: scope, key: key, value: value, reason: reason)
    }
}
