import KerasFile
import Network
import Training

/// What `inspect` says about a file's loss: which Keras's math it trains with, and a warning
/// when the output activation and loss make the Keras versions disagree.
public enum LossSemanticsNote {
    public static func notes(for model: KerasModel, network: Network?) -> [String] {
        guard let lossName = model.trainingConfig?.loss else { return [] }
        let semantics = LossSemantics(producer: model.producer, backend: model.backend)
        var notes = ["loss \(lossName) with \(semantics.rawValue) semantics (from the file's keras_version/backend; --loss-semantics overrides)"]
        guard let loss = LossFunction(kerasName: lossName), let network else { return notes }
        let activation = network.outputActivation.map { OutputActivation(kerasName: $0.rawValue) } ?? .other
        switch loss.agreement(after: activation) {
        case .identical:
            break
        case .differsNearSaturation:
            notes.append("warning: \(lossName) after \(activation.rawValue) differs between Keras versions where outputs saturate (clipping and epsilon)")
        case .differs:
            notes.append("warning: \(lossName) after \(activation.rawValue) is a different function in each Keras: "
                + "tf.keras uses the pre-activation logits, Keras 2.2 and Keras 3 the clipped \(activation.rawValue) output")
        }
        return notes
    }
}
