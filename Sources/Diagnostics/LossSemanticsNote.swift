import KerasFile
import Network
import Training

/// What `inspect` says about a file's loss: which Keras's math it trains with, a warning when
/// an output's activation and loss make the Keras versions disagree, and the training_config
/// settings Relapse accepts without computing (metrics). Refusals are listed by the caller
/// from `Loss.parse(trainingConfig:).refusals`.
public enum LossSemanticsNote {
    public static func notes(for model: KerasModel, network: Network?) -> [String] {
        guard let config = model.trainingConfig else { return [] }
        let parsed = model.definition.map { Loss.parse(trainingConfig: config.json, model: $0, generation: model.producer.generation) }
            ?? Loss.parse(trainingConfig: config.json)
        guard let losses = parsed.modelLoss else { return parsed.notes }
        let semantics = LossSemantics(producer: model.producer, backend: model.backend)
        var notes = ["loss \(losses) with \(semantics.rawValue) semantics (from the file's keras_version/backend; --loss-semantics overrides)"]
        notes += parsed.notes
        guard let network else { return notes }
        for k in losses.targetOutputs where k < network.outputCount {
            let loss = losses.outputs[k].loss!
            let name = loss.function.rawValue
            let activation = network.outputActivation(k).map { OutputActivation(kerasName: $0.rawValue) } ?? .other
            let output = network.outputCount == 1 ? "" : " (output '\(losses.outputs[k].name)')"
            switch loss.function.agreement(after: activation) {
            case .identical:
                break
            case .differsNearSaturation:
                notes.append("warning: \(name) after \(activation.rawValue)\(output) differs between Keras versions where outputs saturate (clipping and epsilon)")
            case .differs:
                notes.append("warning: \(name) after \(activation.rawValue)\(output) is a different function in each Keras: "
                    + "tf.keras uses the pre-activation logits, Keras 2.2 and Keras 3 the clipped \(activation.rawValue) output")
            case .differsInLabels:
                notes.append("warning: \(name)\(output) differs between Keras versions on 0/1 labels: "
                    + "Keras 2.2 uses them as they are, tf.keras and Keras 3 map them to -1/1")
            }
        }
        return notes
    }
}
