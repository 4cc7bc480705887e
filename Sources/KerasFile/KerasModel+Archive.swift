import HDF5

/// `KerasModel` from the new saving library's files (`KerasArchive`, `WeightsStore`).
extension KerasModel {
    /// A `.keras` archive's content: `config.json` (architecture and `compile_config`), the
    /// Keras version from `metadata.json`, and the weights store matched to the config's layers
    /// as Keras's `_load_state` matches them (by class-name key in `model.layers` order, a
    /// nested model's layers under its key). A nested model's weights become one group under its
    /// name, in the order the legacy h5 keeps them (`ModelDefinition.storedWeights(group:)`), so
    /// that training and the legacy writer see the same model from either format.
    init(archiveConfig config: JSONValue, kerasVersion: String?, store: WeightsStore) throws {
        var modelConfig = config
        modelConfig.remove("compile_config")
        let modelConfigJSON = modelConfig.serialized()
        let definition = try ModelConfigParser.parse(modelConfig)
        let producer = Producer(kerasVersion: kerasVersion)
        let suffix = { () -> String in if case .keras3 = producer { return "" } else { return ":0" } }()
        let entries = WeightsStore.keyedLayers(definition.savedLayers)
        let groups = Dictionary(store.layers.map { ($0.key, $0.vars) }, uniquingKeysWith: { a, _ in a })
        var byLayer: [String: [NumericArray]] = [:]
        for (key, entry) in entries {
            let vars = groups[key] ?? []
            switch entry {
            case .layer(let name, let className):
                let needed = definition.layer(named: name)?.weightNames.count ?? 0
                guard vars.count == needed else {
                    throw ModelConfigParser.Failure("layer '\(name)' (\(className)) needs \(needed) weights; the weights file has \(vars.count) at layers/\(key)")
                }
                byLayer[name] = vars
            case .model(let name, let className, _):
                // Keras's models own no variables; theirs are their layers'.
                guard vars.isEmpty else {
                    throw ModelConfigParser.Failure("nested model '\(name)' (\(className)) has \(vars.count) variables of its own at layers/\(key); Keras's models keep none")
                }
            }
        }
        let known = Set(entries.map(\.key))
        for (key, vars) in store.layers where !vars.isEmpty && !known.contains(key) {
            throw ModelConfigParser.Failure("the weights file has \(vars.count) weights at layers/\(key), which is no layer of config.json")
        }
        let layerWeights: [LayerWeights] = definition.savedLayers.map { entry in
            let stored: [StoredWeight]
            if case .model = entry {
                stored = definition.storedWeights(group: entry.name) ?? []
            } else {
                stored = (definition.layer(named: entry.name)?.weightNames ?? []).map { StoredWeight(layer: entry.name, weight: $0, trainable: true) }
            }
            return LayerWeights(layerName: entry.name, weights: stored.compactMap { w in
                guard let index = definition.layer(named: w.layer)?.weightNames.firstIndex(of: w.weight),
                      let values = byLayer[w.layer]?[index] else { return nil }
                return NamedArray(name: "\(w.layer)/\(w.weight)\(suffix)", values: values)
            })
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
        positionalOptimizerName = store.optimizerName
    }
}
