import KerasFile
import Network
import Training

/// What `inspect` says about a file's loss: which Keras's math it trains with, a warning when
/// the output activation and loss make the Keras versions disagree, and the training_config
/// settings Relapse accepts without computing (metrics). Refusals are listed by the caller
/// from `Loss.parse(trainingConfig:).refusals`.
public enum LossSemanticsNote {
    public static func notes(for model: KerasModel, network: Network?) -> [String] {
        guard let config = model.trainingConfig else { return [] }
        let parsed = Loss.parse(trainingConfig: config.json)
        guard let loss = parsed.loss else { return parsed.notes }
        let semantics = LossSemantics(producer: model.producer, backend: model.backend)
        var notes = ["loss \(loss) with \(semantics.rawValue) semantics (from the file's keras_version/backend; --loss-semantics overrides)"]
        notes += parsed.notes
        guard let network else { return notes }
        let name = loss.function.rawValue
        let activation = network.outputActivation.map { OutputActivation(kerasName: $0.rawValue) } ?? .other
        switch loss.function.agreement(after: activation) {
        case .identical:
            break
        case .differsNearSaturation:
            notes.append("warning: \(name) after \(activation.rawValue) differs between Keras versions where outputs saturate (clipping and epsilon)")
        case .differs:
            notes.append("warning: \(name) after \(activation.rawValue) is a different function in each Keras: "
                + "tf.keras uses the pre-activation logits, Keras 2.2 and Keras 3 the clipped \(activation.rawValue) output")
        case .differsInLabels:
            notes.append("warning: \(name) differs between Keras versions on 0/1 labels: "
                + "Keras 2.2 uses them as they are, tf.keras and Keras 3 map them to -1/1")
        }
        return notes
    }
}
