import Kernels

/// A Keras loss by name. Each case's math lives in its own file.
public enum LossFunction: String, CaseIterable, Sendable {
    case binaryCrossentropy = "binary_crossentropy"
    case categoricalCrossentropy = "categorical_crossentropy"
    case meanSquaredError = "mean_squared_error"
    case logcosh = "logcosh"

    /// Accepts the function names and aliases that Keras 2.2, tf.keras and Keras 3 write into
    /// `training_config`, and their class names.
    public init?(kerasName: String) {
        switch kerasName {
        case "binary_crossentropy", "BinaryCrossentropy": self = .binaryCrossentropy
        case "categorical_crossentropy", "CategoricalCrossentropy": self = .categoricalCrossentropy
        case "mean_squared_error", "mse", "MSE", "MeanSquaredError": self = .meanSquaredError
        case "logcosh", "log_cosh", "LogCosh": self = .logcosh
        default: return nil
        }
    }

    /// Evaluates the loss on a batch. `output` is the model output, `logits` the input of its
    /// final activation (needed only when `semantics` takes the cached-logits shortcut after a
    /// softmax or sigmoid), `labels` the targets, all of the same shape.
    public func evaluate(
        output: Tensor, logits: Tensor? = nil, activation: OutputActivation,
        labels: Tensor, semantics: LossSemantics
    ) -> LossEvaluation {
        precondition(output.shape == labels.shape, "output \(output.shape) and labels \(labels.shape) differ in shape")
        precondition(output.rank >= 1, "a loss needs at least one axis")
        let shortcut = semantics.usesCachedLogits && activation.cachesLogits
        if shortcut {
            precondition(logits?.shape == output.shape, "\(semantics.rawValue) \(rawValue) after \(activation.rawValue) needs the logits")
        }
        let rows = RowView(output.shape)
        switch self {
        case .binaryCrossentropy:
            if shortcut { return rows.finish(BinaryCrossentropy.onLogits(logits!.data, labels.data, rows), asLogits: true) }
            return rows.finish(BinaryCrossentropy.onProbabilities(output.data, labels.data, rows, semantics), asLogits: false)
        case .categoricalCrossentropy:
            if shortcut { return rows.finish(CategoricalCrossentropy.onLogits(logits!.data, labels.data, rows), asLogits: true) }
            return rows.finish(CategoricalCrossentropy.onProbabilities(output.data, labels.data, rows), asLogits: false)
        case .meanSquaredError:
            return rows.finish(MeanSquaredError.evaluate(output.data, labels.data, rows), asLogits: false)
        case .logcosh:
            return rows.finish(LogCosh.evaluate(output.data, labels.data, rows), asLogits: false)
        }
    }

    /// How far the semantics disagree for this loss after `activation` (for `inspect`'s warning).
    public func agreement(after activation: OutputActivation) -> LossAgreement {
        switch (self, activation) {
        case (.meanSquaredError, _), (.logcosh, _): return .identical
        // tf.keras: sigmoid cross-entropy on the pre-softmax logits; the others: BCE on the softmax.
        case (.binaryCrossentropy, .softmax): return .differs
        case (.binaryCrossentropy, _): return .differsNearSaturation
        // tf.keras: softmax cross-entropy on the pre-sigmoid logits; the others: normalised sigmoids.
        case (.categoricalCrossentropy, .sigmoid): return .differs
        case (.categoricalCrossentropy, .softmax): return .differsNearSaturation
        case (.categoricalCrossentropy, _): return .identical
        }
    }
}
