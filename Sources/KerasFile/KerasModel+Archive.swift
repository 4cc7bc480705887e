import HDF5

/// `KerasModel` from the new saving library's files (`KerasArchive`, `WeightsStore`).
extension KerasModel {
    /// The layers Keras's `model.layers` lists, whose weights the new layout stores by position:
    /// the config's, less a Sequential model's InputLayer (Sequential.layers hides it).
    public static func savedLayers(_ definition: ModelDefinition) -> [LayerSpec] {
        definition.layers.filter { !(definition.isSequential && $0.className == "InputLayer") }
    }

    /// A `.keras` archive's content: `config.json` (architecture and `compile_config`), the
    /// Keras version from `metadata.json`, and the weights store matched to the config's layers
    /// as Keras's `_load_state` matches them (by class-name key in `model.layers` order).
    init(archiveConfig config: JSONValue, kerasVersion: String?, store: WeightsStore) throws {
        var modelConfig = config
        modelConfig.remove("compile_config")
        let modelConfigJSON = modelConfig.serialized()
        let definition = try ModelConfigParser.parse(modelConfig)
        let producer = Producer(kerasVersion: kerasVersion)
        let suffix = { () -> String in if case .keras3 = producer { return "" } else { return ":0" } }()
        let saved = Self.savedLayers(definition)
        let keys = WeightsStore.layerKeys(classNames: saved.map(\.className))
        let groups = Dictionary(store.layers.map { ($0.key, $0.vars) }, uniquingKeysWith: { a, _ in a })
        var layerWeights: [LayerWeights] = []
        for (layer, key) in zip(saved, keys) {
            let vars = groups[key] ?? []
            guard vars.count == layer.weightNames.count else {
                throw ModelConfigParser.Failure("layer '\(layer.name)' (\(layer.className)) needs \(layer.weightNames.count) weights; the weights file has \(vars.count) at layers/\(key)")
            }
            layerWeights.append(LayerWeights(layerName: layer.name, weights: zip(layer.weightNames, vars).map {
                NamedArray(name: "\(layer.name)/\($0)\(suffix)", values: $1)
            }))
        }
        let known = Set(keys)
        for (key, vars) in store.layers where !vars.isEmpty && !known.contains(key) {
            throw ModelConfigParser.Failure("the weights file has \(vars.count) weights at layers/\(key), which is no layer of config.json")
        }
        var trainingJSON: String? = nil
        if let compile = config["compile_config"], let training = Keras3Dialect.trainingConfig(fromCompileConfig: compile) {
            trainingJSON = training.serialized()
        }
        let file = KerasModelFile(kerasVersion: kerasVersion, backend: nil, modelConfigJSON: modelConfigJSON,
                                  trainingConfigJSON: trainingJSON, layerWeights: layerWeights,
                                  optimizerWeights: nil, relapseState: store.relapseState)
        try self.init(file: file)
        format = .keras
        if let vars = store.optimizerVars, !vars.isEmpty {
            guard var training = trainingConfig else {
                throw ModelConfigParser.Failure("has optimizer variables but no compile_config naming the optimizer")
            }
            let generation: PositionalOptimizerLayout.Generation
            if case .keras3 = producer { generation = .keras3 } else { generation = .tfKeras }
            let (state, learningRate) = try PositionalOptimizerLayout.read(
                vars, optimizerClass: training.optimizerClass, config: training.optimizerConfig,
                generation: generation, variables: trainableVariables)
            optimizerState = state
            // Keras's load_own_variables leaves the stored learning rate in the optimizer.
            if let learningRate, let configured = training.optimizerConfig["learning_rate"]?.doubleValue,
               Float(configured) != Float(learningRate) {
                var optimizer = training.json["optimizer_config"] ?? .object([])
                training.optimizerConfig.set("learning_rate", .double(learningRate))
                optimizer.set("config", training.optimizerConfig)
                training.json.set("optimizer_config", optimizer)
                trainingConfig = training
                trainingConfigJSON = training.json.serialized()
            }
        }
    }

    /// A new-layout `.weights.h5` on its own: weights by store key, the optimizer's variables
    /// by position (their meaning needs the model's compile config).
    init(weightsStore store: WeightsStore) {
        producer = .unknown(version: nil)
        kerasVersion = nil
        backend = nil
        definition = nil
        modelConfigJSON = nil
        trainingConfig = nil
        trainingConfigJSON = nil
        layerWeights = store.layers.map { key, vars in
            LayerWeights(layerName: key, weights: vars.enumerated().map { NamedArray(name: "\(key)/vars/\($0)", values: $1) })
        }
        optimizerState = nil
        relapseState = store.relapseState
        format = .weightsH5
        positionalOptimizerVars = store.optimizerVars
    }
}
