/// A tf.keras or Keras 2.2 model made into a Keras 3 one for `relapse convert`: the
/// architecture in Keras 3's `config.json` dialect (what `serialize_keras_object` writes for
/// the same layers: tools/keras3_formats.py compares), the optimizer config in Keras 3's
/// keys, the state carried over slot for slot. Whatever has no Keras 3 equivalent is refused
/// by name.
extension KerasModel {
    /// - Parameter outputShapes: each layer's per-sample output shape (the network's layer table),
    ///   for the shapes Keras 3 records on its tensors and in `build_config`.
    public func convertedToKeras3(outputShapes: [String: [Int]]) throws -> KerasModel {
        if case .keras3 = producer { return self }
        guard let definition else {
            throw ModelConfigParser.Failure("a weights-only file cannot be converted to .keras (it has no architecture)")
        }
        var model = self
        model.modelConfigJSON = try Keras3Dialect.modelConfig(definition, outputShapes: outputShapes).serialized()
        model.definition = try ModelConfigParser.parse(model.modelConfigJSON!)
        model.kerasVersion = Keras3Dialect.version
        model.producer = .keras3(version: Keras3Dialect.version)
        model.backend = "tensorflow"
        model.format = .keras
        if definition.weightGroups.isEmpty {
            model.layerWeights = layerWeights.map { group in
                LayerWeights(layerName: group.layerName, weights: group.weights.map { array in
                    NamedArray(name: OptimizerLayout.stripSuffix(array.name), values: array.values)
                })
            }
        } else {
            // Nested models are written inlined (the definition's layers): each layer's weights
            // become its own group (empty for a layer without, as Keras lists every layer), in layer order, which keeps Keras's trainable_weights order
            // (a nested model's trainable weights sit at its place, depth first).
            let byLayer = weightsByLayer
            model.layerWeights = definition.layers.map { layer in
                LayerWeights(layerName: layer.name, weights: zip(layer.weightNames, byLayer[layer.name] ?? []).map {
                    NamedArray(name: "\(layer.name)/\($0)", values: $1)
                })
            }
        }
        if let trainingConfig {
            let (className, config) = try Keras3Dialect.optimizer(from: trainingConfig, producer: producer)
            var json = JSONValue.object([])
            if case .object(let pairs) = trainingConfig.json {
                for (key, value) in pairs where !Keras3Dialect.compileKeys.contains(key) && key != "optimizer_config" && !value.isNull {
                    throw ModelConfigParser.Failure("training setting \(key)=\(value.serialized()) has no Keras 3 equivalent")
                }
                json = .object(pairs.filter { $0.0 != "optimizer_config" && Keras3Dialect.compileKeys.contains($0.0) }.map { key, value in
                    (key, key == "metrics" || key == "weighted_metrics" ? Keras3Dialect.metricNames(value) : value)
                })
            }
            json.set("optimizer_config", .object([("class_name", .string(className)), ("config", config)]))
            model.trainingConfig = try TrainingConfig(json: json)
            model.trainingConfigJSON = json.serialized()
            if var state = optimizerState {
                state.optimizerClass = className
                model.optimizerState = state
            }
        }
        try model.checkOptimizerStateMatchesWeights()
        return model
    }

    /// Every optimizer slot has one array per trainable weight, of its shape: a conversion that
    /// regroups weights must keep Keras's order.
    func checkOptimizerStateMatchesWeights() throws {
        guard let state = optimizerState else { return }
        let shapes = trainableVariables.map(\.shape)
        for (slot, arrays) in state.slots where arrays.map(\.shape) != shapes {
            throw ModelConfigParser.Failure("optimizer slot '\(slot)' holds \(arrays.count) arrays that do not match the \(shapes.count) trainable weights after conversion")
        }
    }
}

extension Keras3Dialect {
    /// The arguments of Keras 3's `Trainer.compile` that a compile config may hold.
    static let compileKeys: Set<String> = ["loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
                                           "steps_per_execution", "jit_compile", "auto_scale_loss"]
    static let builtClasses: Set<String> = ["Conv2D", "Dense", "Flatten", "Reshape"]

    static let floatPolicy = JSONValue.object([
        ("module", .string("keras")), ("class_name", .string("DTypePolicy")),
        ("config", .object([("name", .string("float32"))])), ("registered_name", .null),
    ])

    static func shapeJSON(_ shape: [Int?]) -> JSONValue {
        .array(shape.map { $0.map { .int($0) } ?? .null })
    }

    /// `config.json`'s model (without `compile_config`) in Keras 3's dialect.
    static func modelConfig(_ definition: ModelDefinition, outputShapes: [String: [Int]]) throws -> JSONValue {
        func output(_ name: String) throws -> [Int?] {
            guard let shape = outputShapes[name] else { throw ModelConfigParser.Failure("no shape for layer '\(name)'") }
            return [nil] + shape.map { Optional($0) }
        }
        // A Sequential that held nested models is inlined into a graph, which only a
        // functional config can wire (its nested parts need not be chains).
        let sequential = definition.isSequential && !definition.wiredByInbound
        var entries: [JSONValue] = []
        for layer in definition.layers {
            var config = try layerConfig(layer)
            config.set("name", .string(layer.name))
            // A frozen nested model froze its layers (NestedModels.inline); inlined, each says so.
            if !layer.training.trainable, !layer.weightNames.isEmpty { config.set("trainable", .bool(false)) }
            var entry: [(String, JSONValue)] = [
                ("module", .string("keras.layers")), ("class_name", .string(layer.className)),
                ("config", config), ("registered_name", .null),
            ]
            // Keras 3 records build shapes for layers with a `build` step only.
            if Self.builtClasses.contains(layer.className), let source = layer.inbound.first {
                entry.append(("build_config", .object([("input_shape", shapeJSON(try output(source.layer)))])))
            }
            if !sequential {
                entry.append(("name", .string(layer.name)))
                // Keras 3's `Functional.call` passes the model's mode over a call's own
                // `training` (keras/src/models/functional.py `operation_fn`): tf.keras's Monte
                // Carlo dropout (`training=True` on a call) would silently stop.
                if let mode = layer.callTraining.compactMap({ $0 }).first {
                    throw ConfigRefusal(scope: "layer '\(layer.name)' (\(layer.className))", key: "call argument training", value: .bool(mode),
                                        reason: "has no Keras 3 equivalent (Keras 3's fit and predict pass the model's own mode over it)")
                }
                // One node per call: a shared layer, or a nested model's layer called twice.
                let nodes: [JSONValue] = try layer.inboundNodes.map { refs in
                    let args: [JSONValue] = try refs.map { ref in
                        .object([("class_name", .string("__keras_tensor__")), ("config", .object([
                            ("shape", shapeJSON(try output(ref.layer))), ("dtype", .string("float32")),
                            ("keras_history", .array([.string(ref.layer), .int(ref.nodeIndex), .int(ref.tensorIndex)])),
                        ]))])
                    }
                    return .object([("args", .array(args.count == 1 ? args : [.array(args)])), ("kwargs", .object([]))])
                }
                entry.append(("inbound_nodes", .array(nodes)))
            }
            entries.append(.object(entry))
        }
        // Keras 3 writes one tensor bare, several as a list, a dict as a dict (`map_tensors` in
        // `Functional.get_config`): the grouping the file had, a one-element list as one tensor.
        func refs(_ list: [TensorRef], _ grouping: TensorGrouping) -> JSONValue {
            let items = list.map { JSONValue.array([.string($0.layer), .int($0.nodeIndex), .int($0.tensorIndex)]) }
            if case .dict(let keys) = grouping, keys.count == items.count { return .object(Array(zip(keys, items))) }
            return items.count == 1 ? items[0] : .array(items)
        }
        let trainable = JSONValue.bool(definition.config["config"]?["trainable"]?.boolValue ?? true)
        if sequential {
            let inputShape = try output(definition.layers[0].name)
            return .object([
                ("module", .string("keras")), ("class_name", .string("Sequential")),
                ("config", .object([("name", .string(definition.name)), ("trainable", trainable), ("dtype", floatPolicy),
                                    ("layers", .array(entries))])),
                ("registered_name", .null), ("build_config", .object([("input_shape", shapeJSON(inputShape))])),
            ])
        }
        return .object([
            ("module", .string("keras.src.models.functional")), ("class_name", .string("Functional")),
            ("config", .object([("name", .string(definition.name)), ("trainable", trainable), ("layers", .array(entries)),
                                ("input_layers", refs(definition.inputs, definition.inputGrouping)),
                                ("output_layers", refs(definition.outputs, definition.outputGrouping))])),
            ("registered_name", .string("Functional")), ("build_config", .object([("input_shape", .null)])),
        ])
    }

    /// One layer's config in Keras 3's keys: InputLayer's `batch_input_shape` is `batch_shape`,
    /// a float32 `dtype` is a DTypePolicy, a layer's own `batch_input_shape` (Keras 2 Sequential)
    /// goes to the InputLayer Relapse's parser already made for it.
    static func layerConfig(_ layer: LayerSpec) throws -> JSONValue {
        guard case .object(let pairs) = layer.config else { throw ModelConfigParser.Failure("layer '\(layer.name)' has no config object") }
        if layer.className == "InputLayer" {
            guard case .input(let batchShape) = layer.kind else { throw ModelConfigParser.Failure("input layer '\(layer.name)' has no shape") }
            let dtype = layer.config["dtype"]?.stringValue ?? "float32"
            guard dtype == "float32" else { throw ModelConfigParser.Failure("input layer '\(layer.name)': dtype \(dtype) is not float32") }
            return .object([("batch_shape", shapeJSON(batchShape)), ("dtype", .string("float32")),
                            ("sparse", layer.config["sparse"] ?? .bool(false)), ("ragged", .bool(false)),
                            ("name", .string(layer.name)), ("optional", .bool(false))])
        }
        var result: [(String, JSONValue)] = []
        var sawDType = false
        for (key, value) in pairs {
            switch key {
            case "batch_input_shape", "input_dim", "input_shape", "batch_size":
                continue
            case "activity_regularizer" where layer.className == "Dense" && value.isNull:
                continue  // Keras 3's Dense.get_config leaves it out.
            // What tf-keras 2.21's get_config writes and Keras 3.15's constructors refuse
            // (compared key by key for every layer Relapse computes):
            case "axis" where layer.className == "BatchNormalization":
                // tf-keras keeps a list of axes, Keras 3 one int; Relapse computes one axis.
                result.append((key, value.arrayValue?.count == 1 ? value.arrayValue![0] : value))
            case "fused" where layer.className == "BatchNormalization":
                continue  // tf.keras's choice of kernel; Keras 3 has one batch norm.
            case "groups" where ["DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"].contains(layer.className) && value == .int(1):
                continue  // Relapse refuses other values on these classes; Keras 3 has no such argument.
            case "kernel_initializer", "kernel_regularizer", "kernel_constraint" where layer.className == "SeparableConv2D":
                // Inherited from Conv by tf-keras's SeparableConv2D, which builds and regularizes
                // only its depthwise and pointwise kernels (tf_keras/src/layers/convolutional/
                // base_separable_conv.py): never used.
                continue
            case "noise_shape" where layer.className == "SpatialDropout2D" && value.isNull,
                 "trainable" where layer.className == "SpatialDropout2D":
                continue  // tf-keras's Dropout base; a SpatialDropout2D picks its own mask and has no weights.
            case "alpha" where layer.className == "LeakyReLU":
                result.append(("negative_slope", value))  // Keras 3's name for the slope.
            case "activation" where TFKerasDialect.activationName(value) == "hard_sigmoid":
                // tf.keras and Keras 2.2: clip(0.2 x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6.
                throw ConfigRefusal(scope: "layer '\(layer.name)' (\(layer.className))", key: key, value: value,
                                    reason: "computes clip(0.2x + 0.5, 0, 1) here and relu6(x + 3) / 6 in Keras 3; no Keras 3 config keeps it")
            case "dtype":
                sawDType = true
                let name = value.stringValue ?? value["config"]?["name"]?.stringValue
                guard name == nil || name == "float32" else {
                    throw ModelConfigParser.Failure("layer '\(layer.name)': dtype \(value.serialized()) has no float32 Keras 3 equivalent here")
                }
                result.append((key, floatPolicy))
            default:
                result.append((key, value))
            }
        }
        if !sawDType { result.insert(("dtype", floatPolicy), at: min(2, result.count)) }
        return .object(result)
    }

    /// The optimizer's Keras 3 class and config from a tf.keras or Keras 2.2 training config.
    /// Keras 2.2's `lr` is `learning_rate`, its `epsilon: null` 1e-7 (its K.epsilon()); a non-zero
    /// `decay` (Keras 3 has none) and Keras 2.2's Nadam `schedule_decay` are refused.
    static func optimizer(from training: TrainingConfig, producer: Producer) throws -> (String, JSONValue) {
        let className = training.optimizerClass
        guard ["adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax"].contains(className.lowercased()) else {
            throw ModelConfigParser.Failure("optimizer \(className) is not converted to Keras 3 (its saved state does not carry over exactly)")
        }
        var config = JSONValue.object([])
        guard case .object(let pairs) = training.optimizerConfig else { return (className, config) }
        let keras3Name = ["RMSprop": "rmsprop", "AdamW": "adam_w"][className] ?? className.lowercased()
        config.set("name", .string(keras3Name))
        for (key, value) in pairs {
            switch key {
            case "name", "jit_compile", "is_legacy_optimizer":
                continue  // tf-keras only; the name is Keras 3's default for the class.
            case "lr":
                if training.optimizerConfig["learning_rate"] == nil { config.set("learning_rate", value) }
            case "decay":
                if let decay = value.doubleValue, decay != 0 {
                    throw ModelConfigParser.Failure("optimizer setting decay=\(decay) has no Keras 3 equivalent (Keras 3 optimizers have no per-step decay)")
                }
            case "epsilon" where value.isNull:
                config.set("epsilon", .double(1e-7))
            case "schedule_decay":
                throw ModelConfigParser.Failure("optimizer setting schedule_decay has no Keras 3 equivalent")
            default:
                config.set(key, value)
            }
        }
        if case .keras2 = producer, className.lowercased() == "adagrad", config["initial_accumulator_value"] == nil {
            config.set("initial_accumulator_value", .double(0))  // Keras 2.2's accumulators start at zero.
        }
        return (className, config)
    }
}
