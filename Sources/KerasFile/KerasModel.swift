import HDF5

/// A Keras model file understood: who wrote it, the architecture, the weights per layer, the
/// training config and the optimizer's state. Built from a `KerasModelFile`, and turned back
/// into one in tf.keras 2.x's layout for writing.
public struct KerasModel: Sendable {
    public var producer: Producer
    public var kerasVersion: String?
    public var backend: String?
    /// The parsed architecture; nil for a `save_weights` file.
    public var definition: ModelDefinition?
    /// `model_config` exactly as read, written back unchanged while the architecture is.
    public var modelConfigJSON: String?
    public var trainingConfig: TrainingConfig?
    public var trainingConfigJSON: String?
    /// Weights per layer in `layer_names` order, names as stored.
    public var layerWeights: [LayerWeights]
    public var optimizerState: OptimizerState?
    public var relapseState: String?
    /// The format the model was read from (`.h5`, `.keras` or a new-layout `.weights.h5`).
    public var format: ModelFileFormat = .h5
    /// A new-layout weights file's `optimizer/vars`, kept by position: without the model's
    /// config the optimizer's class and slots cannot be told.
    public var positionalOptimizerVars: [NumericArray]?
    /// The `name` attribute of those variables' group (Keras 3 writes the optimizer's name,
    /// "adam"; tf-keras nothing).
    public var positionalOptimizerName: String?

    /// Reads and interprets `path` in any of Keras's formats (legacy `.h5`, `.keras`, new-layout
    /// `.weights.h5`), told apart by content. Fails with a `KerasFileError` naming the file.
    public static func load(_ path: String) throws -> KerasModel {
        try InputPath.validate(path, requireHDF5: false)
        if ZipArchive.looksLikeZip(path) || (path.hasSuffix(".keras") && !File.isHDF5(path)) {
            return try KerasArchive.read(path)
        }
        if File.isHDF5(path), try isNewLayout(path) {
            return try KerasArchive.readWeightsFile(path)
        }
        let file = try KerasModelFile.read(path)
        do {
            return try KerasModel(file: file)
        } catch let error as KerasFileError {
            throw error
        } catch {
            throw KerasFileError(path, "\(error)")
        }
    }

    private static func isNewLayout(_ path: String) throws -> Bool {
        do {
            return WeightsStore.isNewLayout(try File.open(path).root)
        } catch {
            throw KerasFileError(path, "\(error)")
        }
    }

    /// Like `load`, but a weights-only file is an error: the caller needs an architecture.
    public static func loadFullModel(_ path: String) throws -> KerasModel {
        let model = try load(path)
        guard model.definition != nil else {
            throw KerasFileError(path, "is a weights-only file (save_weights); a full model saved with model.save is needed")
        }
        return model
    }

    public init(file: KerasModelFile) throws {
        producer = Producer(kerasVersion: file.kerasVersion)
        kerasVersion = file.kerasVersion
        backend = file.backend
        modelConfigJSON = file.modelConfigJSON
        trainingConfigJSON = file.trainingConfigJSON
        layerWeights = file.layerWeights
        relapseState = file.relapseState
        if let json = file.modelConfigJSON {
            let definition = try ModelConfigParser.parse(json, generation: producer.generation)
            self.definition = definition
            try Self.checkWeightsMatch(definition, layerWeights)
        }
        if let text = file.trainingConfigJSON, !text.isEmpty, text != "null" {
            trainingConfig = try TrainingConfig.parse(text)
        }
        if let arrays = file.optimizerWeights, !arrays.isEmpty {
            guard let optimizerClass = trainingConfig?.optimizerClass else {
                throw ModelConfigParser.Failure("has optimizer_weights but no training_config naming the optimizer")
            }
            do {
                optimizerState = try OptimizerLayout.read(arrays, optimizerClass: optimizerClass, variables: trainableVariables)
            } catch where !(definition?.refusals.isEmpty ?? true) {
                // A refused layer's weights are not the ones Relapse knows (an LSTM's, renorm's
                // statistics), so the slots cannot be told apart. Nothing trains from this file
                // (`Network` stops at the refusals first); `inspect` still lists them.
                optimizerState = nil
            }
        }
    }

    /// Every layer with weights in the config (or nested model) has a group with the right number
    /// of weights, and every weight group belongs to one. (Shapes are the network's check.)
    /// A refused layer's group is not checked: a refused class (LSTM) or setting (BatchNormalization's
    /// renorm, which adds renorm_mean and renorm_stddev) brings weights Relapse does not know, and
    /// the refusal, not the count, is what the user must read; no network is built from it.
    private static func checkWeightsMatch(_ definition: ModelDefinition, _ weights: [LayerWeights]) throws {
        let stored = Dictionary(weights.map { ($0.layerName, $0) }, uniquingKeysWith: { a, _ in a })
        func refused(_ group: String) -> Bool {
            let members = definition.weightGroups[group] ?? [group]
            return members.contains { !(definition.layer(named: $0)?.refusals.isEmpty ?? true) }
        }
        for name in definition.expectedWeightGroups where !refused(name) {
            let expected = definition.storedWeights(group: name) ?? []
            guard let group = stored[name] else {
                throw ModelConfigParser.Failure("layer '\(name)' has no weights in model_weights")
            }
            guard group.weights.count == expected.count else {
                throw ModelConfigParser.Failure("layer '\(name)' has \(group.weights.count) weights in the file; its config needs \(expected.count) (\(expected.map { definition.weightGroups[name] == nil ? $0.weight : "\($0.layer)/\($0.weight)" }.joined(separator: ", ")))")
            }
            // Normalization's `count` is an integer; it is state that no computation changes.
            for (array, w) in zip(group.weights, expected) where !array.values.elementType.isFloatingPoint
                && !(definition.layer(named: w.layer)?.nonTrainableWeightNames.contains(w.weight) ?? false) {
                throw ModelConfigParser.Failure("weight '\(array.name)' is \(array.values.elementType.rawValue), not a float")
            }
        }
        let known = Set(definition.expectedWeightGroups)
        for group in weights where !group.weights.isEmpty && !known.contains(group.layerName) && !refused(group.layerName) {
            throw ModelConfigParser.Failure("model_weights has weights for '\(group.layerName)', which is not a layer of the model")
        }
    }

    /// The trainable weights in Keras's order (groups as in `layer_names`, each group's weights
    /// in `weight_names` order), as (stored name, shape). Weights of `trainable: false` layers
    /// are not among them, nor the state a layer's class keeps beside its trained weights
    /// (BatchNormalization's moving statistics: `LayerSpec.nonTrainableWeightNames`): Keras's
    /// optimizer keeps no state for them.
    public var trainableVariables: [(name: String, shape: [Int])] {
        layerWeights.flatMap { group -> [(name: String, shape: [Int])] in
            let all = group.weights.map { (name: $0.name, shape: $0.values.shape) }
            guard let expected = definition?.storedWeights(group: group.layerName), expected.count == all.count else { return all }
            return zip(all, expected).filter { $0.1.trainable }.map(\.0)
        }
    }

    /// The stored weights by layer (a nested model's group split among its layers), each layer's
    /// in its `weightNames` order.
    public var weightsByLayer: [String: [NumericArray]] {
        var result: [String: [NumericArray]] = [:]
        for group in layerWeights {
            guard let definition, let expected = definition.storedWeights(group: group.layerName),
                  expected.count == group.weights.count, definition.weightGroups[group.layerName] != nil else {
                if result[group.layerName] == nil { result[group.layerName] = group.weights.map(\.values) }
                continue
            }
            var byName: [String: [String: NumericArray]] = [:]
            for (array, w) in zip(group.weights, expected) { byName[w.layer, default: [:]][w.weight] = array.values }
            for (layer, arrays) in byName {
                let order = definition.layer(named: layer)?.weightNames ?? []
                result[layer] = order.compactMap { arrays[$0] }
            }
        }
        return result
    }

    /// The weights of one layer, in Keras's order.
    public func weights(of layer: String) -> [NumericArray] {
        layerWeights.first { $0.layerName == layer }?.weights.map(\.values) ?? []
    }

    /// The file content in tf.keras 2.x's layout. A Keras 2.0-2.3 training config is written
    /// in tf.keras's dialect, which today's loaders read; everything else goes back as it came.
    public func fileContent() -> KerasModelFile {
        var trainingJSON = trainingConfigJSON
        if case .keras2 = producer, let trainingConfig {
            trainingJSON = trainingConfig.tfKerasDialect().serialized()
        }
        return KerasModelFile(
            kerasVersion: kerasVersion, backend: backend, modelConfigJSON: modelConfigJSON,
            trainingConfigJSON: trainingJSON, layerWeights: layerWeights,
            optimizerWeights: optimizerState.map { OptimizerLayout.write($0, variables: trainableVariables.map(\.name)) },
            relapseState: relapseState)
    }

    /// Writes the model atomically in the format the file name asks for (`.keras`,
    /// `.weights.h5`, else tf.keras 2.x's `.h5` layout), or in `format` when given.
    public func write(to path: String, format: ModelFileFormat? = nil) throws {
        switch format ?? ModelFileFormat(outputPath: path) {
        case .h5: try fileContent().write(to: path)
        case .keras: try KerasArchive.write(self, to: path)
        case .weightsH5: try KerasArchive.writeWeightsFile(self, to: path)
        }
    }
}
