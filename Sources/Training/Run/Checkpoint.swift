import HDF5
import KerasFile
import Kernels
import Network

/// A checkpoint is a full Keras model file (config, training config, weights, optimizer state)
/// plus Relapse's `RunState`, written atomically.
enum Checkpoint {
    /// The model as it stands now, in `template`'s file layout and names.
    static func model(template: KerasModel, trainer: Trainer, state: RunState, loss: ModelLoss) throws -> KerasModel {
        var model = template
        let current = trainer.network.weightsByLayer
        let definition = template.definition
        model.layerWeights = template.layerWeights.map { group in
            // A nested model's group holds its layers' weights in its own order.
            var tensors = current[group.layerName]
            if let definition, definition.weightGroups[group.layerName] != nil,
               let expected = definition.storedWeights(group: group.layerName) {
                tensors = expected.compactMap { w in
                    definition.layer(named: w.layer).flatMap { $0.weightNames.firstIndex(of: w.weight) }.flatMap { current[w.layer]?[$0] }
                }
            }
            guard let tensors, tensors.count == group.weights.count else { return group }
            // A weight that is not a float (Normalization's integer `count`) never changes: kept as stored.
            return LayerWeights(layerName: group.layerName, weights: zip(group.weights, tensors).map {
                $0.values.elementType.isFloatingPoint ? NamedArray(name: $0.name, values: NumericArray($1)) : $0
            })
        }
        model.optimizerState = trainer.optimizer.savedState()
        model.trainingConfigJSON = trainingConfig(template: template.trainingConfig, optimizer: trainer.optimizer, loss: loss,
                                                  model: template.definition, generation: template.producer.generation).serialized()
        model.trainingConfig = try TrainingConfig.parse(model.trainingConfigJSON!)
        model.relapseState = try state.json()
        return model
    }

    /// `training_config` with the optimizer and loss in use, other entries kept as they were:
    /// the file's own loss entry stays as Keras wrote it unless the loss or its weight changed.
    /// Changed losses of a model with several outputs are written as lists, one entry per output
    /// (null: none), which every Keras pairs with the outputs by position.
    static func trainingConfig(template: TrainingConfig?, optimizer: Optimizer, loss losses: ModelLoss,
                               model: ModelDefinition? = nil, generation: KerasGeneration = .tfKeras) -> JSONValue {
        var json: JSONValue
        switch losses {
        case .single(let loss):
            json = template?.json ?? .object([
                ("loss", loss.kerasJSON), ("metrics", .array([.string("accuracy")])),
                ("weighted_metrics", .null), ("loss_weights", loss.kerasLossWeights),
            ])
            let recorded = template.map { Loss.parse(trainingConfig: $0.json) }
            var unweighted = loss
            unweighted.weight = recorded?.weight ?? 1
            if recorded?.loss != unweighted { json.set("loss", loss.kerasJSON) }
            if (recorded?.weight ?? 1) != loss.weight { json.set("loss_weights", loss.kerasLossWeights) }
        case .perOutput(let outputs):
            let entries = JSONValue.array(outputs.map { $0.loss?.kerasJSON ?? .null })
            let weights: JSONValue = outputs.allSatisfy { $0.weight == 1 } ? .null : .array(outputs.map { .double($0.weight) })
            json = template?.json ?? .object([
                ("loss", entries), ("metrics", .array([.string("accuracy")])), ("weighted_metrics", .null), ("loss_weights", weights),
            ])
            let recorded = template.flatMap { config in
                model.map { Loss.parse(trainingConfig: config.json, model: $0, generation: generation).modelLoss }
            } ?? nil
            if recorded != losses {
                json.set("loss", entries)
                json.set("loss_weights", weights)
            }
        }
        var optimizerConfig = optimizer.optimizerConfigJSON
        // tf-keras 2.11+ registers its optimizers as "Custom>Adam" and writes that name.
        if optimizer.flavor == .tfKeras {
            optimizerConfig.set("class_name", .string("Custom>" + optimizer.className))
        }
        json.set("optimizer_config", optimizerConfig)
        return json
    }
}
