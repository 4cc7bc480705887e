import KerasFile
import Kernels

/// A loss as Keras compiles it: the function, its options, how the batch is reduced, and the
/// single output's loss weight (`loss_weights`). Parsed from a file's `training_config` or from
/// `--loss` (LossParsing.swift), recorded in checkpoints (so a resumed run keeps every option),
/// and evaluated by `Trainer` once per batch.
public struct Loss: Equatable, Sendable {
    public var function: LossFunction
    /// The output is taken as logits (crossentropies only).
    public var fromLogits: Bool
    /// Labels are squeezed towards 0.5 (binary) or 1/classes (categorical) by this fraction.
    public var labelSmoothing: Double
    /// Huber's switch from quadratic to linear.
    public var delta: Double
    public var reduction: LossReduction
    /// `loss_weights` of the single output: multiplies the reported and minimised loss.
    public var weight: Double
    /// The class axis of a crossentropy as the config says it (Keras counts the batch as 0);
    /// only the last axis is computed (`resolvingAxis`).
    public var axis = -1

    public init(_ function: LossFunction, fromLogits: Bool = false, labelSmoothing: Double = 0, delta: Double = 1,
                reduction: LossReduction = .sumOverBatchSize, weight: Double = 1) {
        self.function = function
        self.fromLogits = fromLogits
        self.labelSmoothing = labelSmoothing
        self.delta = delta
        self.reduction = reduction
        self.weight = weight
    }

    /// The loss with its axis checked against the model output's rank (batch included): the
    /// last axis, as -1 or as its number, is what Relapse computes; another is refused by name.
    public func resolvingAxis(outputRank: Int) throws -> Loss {
        guard axis != -1 else { return self }
        guard axis == outputRank - 1 else {
            throw ConfigRefusals([ConfigRefusal(scope: "loss", key: "axis", value: .int(axis),
                                                reason: "is not supported (only the last axis of the output: -1 or \(outputRank - 1))")])
        }
        var loss = self
        loss.axis = -1
        return loss
    }

    /// Labels are class indices, one per sample (sparse_categorical_crossentropy), rather than
    /// one value per output unit.
    public var takesClassIndices: Bool { function == .sparseCategoricalCrossentropy }

    /// The same loss with Keras's default options and weight 1 (what a bare name means).
    var isPlainName: Bool { self == Loss(function) }

    /// Evaluates the loss on a batch. `output` is the model output, `logits` the input of its
    /// final activation (needed when `semantics` takes the cached-logits shortcut after a softmax
    /// or sigmoid), `labels` the targets: the output's shape, or (batch) / (batch, 1) class
    /// indices for sparse_categorical_crossentropy.
    public func evaluate(
        output: Tensor, logits: Tensor? = nil, activation: OutputActivation,
        labels: Tensor, semantics: LossSemantics
    ) -> LossEvaluation {
        precondition(output.rank >= 1, "a loss needs at least one axis")
        let rows = RowView(output.shape)
        if takesClassIndices {
            precondition(labels.count == rows.count, "\(rows.count) rows need as many class indices, got labels \(labels.shape)")
        } else {
            precondition(output.shape == labels.shape, "output \(output.shape) and labels \(labels.shape) differ in shape")
        }
        // tf.keras's `_get_logits` (tf_keras/src/backend.py) and Keras 3's on TensorFlow
        // (keras/src/backend/tensorflow/nn.py) take the activation's cached logits whatever
        // from_logits says.
        let cached = function.isCrossentropy && semantics.usesCachedLogits && activation.cachesLogits
        if cached {
            precondition(logits?.shape == output.shape, "\(semantics.rawValue) \(function.rawValue) after \(activation.rawValue) needs the logits")
        }
        let x = cached ? logits!.data : output.data
        let partial: RowView.Partial
        switch function {
        case .binaryCrossentropy:
            let y = smoothedBinary(labels.data)
            partial = cached || fromLogits ? BinaryCrossentropy.onLogits(x, y, rows)
                : BinaryCrossentropy.onProbabilities(x, y, rows, semantics)
        case .categoricalCrossentropy, .sparseCategoricalCrossentropy:
            let y = takesClassIndices ? oneHot(labels.data, rows) : smoothedCategorical(labels.data, classes: rows.width)
            if cached || fromLogits {
                // TensorFlow's kernels return softmax - y; JAX differentiates -sum y log_softmax.
                partial = CategoricalCrossentropy.onLogits(x, y, rows, exactGradient: !cached && semantics == .keras3)
            } else if takesClassIndices && semantics != .keras3 {
                partial = SparseCategoricalCrossentropy.throughLog(x, y, rows)
            } else {
                partial = CategoricalCrossentropy.onProbabilities(x, y, rows)
            }
        case .meanSquaredError: partial = MeanSquaredError.evaluate(x, labels.data, rows)
        case .meanAbsoluteError: partial = MeanAbsoluteError.evaluate(x, labels.data, rows)
        case .meanAbsolutePercentageError: partial = MeanAbsolutePercentageError.evaluate(x, labels.data, rows)
        case .meanSquaredLogarithmicError: partial = MeanSquaredLogarithmicError.evaluate(x, labels.data, rows)
        case .huber: partial = Huber.evaluate(x, labels.data, rows, delta: Float(delta))
        case .hinge: partial = Hinge.hinge(x, Hinge.labels(labels.data, semantics), rows)
        case .squaredHinge: partial = Hinge.squared(x, Hinge.labels(labels.data, semantics), rows)
        case .categoricalHinge: partial = Hinge.categorical(x, labels.data, rows, semantics)
        case .klDivergence: partial = KLDivergence.evaluate(x, labels.data, rows)
        case .poisson: partial = Poisson.evaluate(x, labels.data, rows)
        case .logcosh: partial = LogCosh.evaluate(x, labels.data, rows)
        }
        return rows.finish(partial, asLogits: cached, reduction: reduction, weight: weight)
    }

    /// `y (1 - s) + 0.5 s` in float32 (`binary_crossentropy` in tf_keras/src/losses.py and
    /// keras/src/losses/losses.py).
    private func smoothedBinary(_ y: [Float]) -> [Float] {
        guard labelSmoothing != 0 else { return y }
        let s = Float(labelSmoothing)
        return y.map { $0 * (1 - s) + 0.5 * s }
    }

    /// `y (1 - s) + s / classes` in float32 (`categorical_crossentropy`, same files).
    private func smoothedCategorical(_ y: [Float], classes: Int) -> [Float] {
        guard labelSmoothing != 0 else { return y }
        let s = Float(labelSmoothing)
        return y.map { $0 * (1 - s) + s / Float(classes) }
    }

    /// Class indices as one-hot rows (the data are validated to hold indices below the width).
    private func oneHot(_ indices: [Float], _ rows: RowView) -> [Float] {
        var y = [Float](repeating: 0, count: rows.count * rows.width)
        for (r, index) in indices.enumerated() { y[r * rows.width + Int(index)] = 1 }
        return y
    }
}

extension Loss: CustomStringConvertible {
    /// `categorical_crossentropy`, or with what differs from Keras's defaults:
    /// `categorical_crossentropy(from_logits=true, label_smoothing=0.1, reduction=sum) x 0.5`.
    public var description: String {
        var options: [String] = []
        if fromLogits { options.append("from_logits=true") }
        if labelSmoothing != 0 { options.append("label_smoothing=\(labelSmoothing)") }
        if delta != 1 { options.append("delta=\(delta)") }
        if reduction != .sumOverBatchSize { options.append("reduction=\(reduction.rawValue)") }
        return function.rawValue + (options.isEmpty ? "" : "(\(options.joined(separator: ", ")))")
            + (weight != 1 ? " x \(weight)" : "")
    }
}
