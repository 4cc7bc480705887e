import HDF5
import KerasFile
import Kernels
import Network

/// A checkpoint is a full Keras model file (config, training config, weights, optimizer state)
/// plus Relapse's `RunState`, written atomically.
enum Checkpoint {
    /// The model as it stands now, in `template`'s file layout and names.
    static func model(template: KerasModel, trainer: Trainer, state: RunState, lossName: String) throws -> KerasModel {
        var model = template
        let current = trainer.network.weightsByLayer
        model.layerWeights = template.layerWeights.map { group in
            guard let tensors = current[group.layerName], tensors.count == group.weights.count else { return group }
            return LayerWeights(layerName: group.layerName, weights: zip(group.weights, tensors).map {
                NamedArray(name: $0.name, values: NumericArray($1))
            })
        }
        model.optimizerState = trainer.optimizer.savedState()
        model.trainingConfigJSON = trainingConfig(template: template.trainingConfig, optimizer: trainer.optimizer,
                                                  loss: lossName).serialized()
        model.trainingConfig = try TrainingConfig.parse(model.trainingConfigJSON!)
        model.relapseState = try state.json()
        return model
    }

    /// `training_config` with the optimizer and loss in use, other entries kept as they were.
    static func trainingConfig(template: TrainingConfig?, optimizer: Optimizer, loss: String) -> JSONValue {
        var json = template?.json ?? .object([
            ("loss", .string(loss)), ("metrics", .array([.string("accuracy")])),
            ("weighted_metrics", .null), ("loss_weights", .null),
        ])
        if template?.loss != loss { json.set("loss", .string(loss)) }
        var optimizerConfig = optimizer.optimizerConfigJSON
        // tf-keras 2.11+ registers its optimizers as "Custom>Adam" and writes that name.
        if optimizer.flavor == .tfKeras {
            optimizerConfig.set("class_name", .string("Custom>" + optimizer.className))
        }
        json.set("optimizer_config", optimizerConfig)
        return json
    }
}
