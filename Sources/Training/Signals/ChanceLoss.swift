import Kernels

/// The loss of a constant predictor: every sample gets the training labels' mean (class
/// frequencies for cross-entropies), evaluated with the run's loss and semantics as a
/// probability output. `history.csv`'s `chance_loss`, for the chance-plateau rule; nil where a
/// constant prediction is not a probability the loss reads (from_logits, reduction sum).
public enum ChanceLoss {
    /// The same for a compiled loss: a model with several outputs sums its outputs' chance losses
    /// (each weighted, as their losses are); nil where any is nil. `targets` and `outputWidths`
    /// follow `losses.targetOutputs`.
    public static func of(_ losses: ModelLoss, semantics: LossSemantics, targets: [Tensor], outputWidths: [Int]) -> Double? {
        let entries = losses.targetOutputs.map { losses.outputs[$0].loss! }
        guard entries.count == targets.count, entries.count == outputWidths.count, !entries.isEmpty else { return nil }
        var total = 0.0
        for j in entries.indices {
            guard let value = of(entries[j], semantics: semantics, labels: targets[j], outputWidth: outputWidths[j]) else { return nil }
            total += value
        }
        return total
    }

    public static func of(_ loss: Loss, semantics: LossSemantics, labels: Tensor, outputWidth: Int) -> Double? {
        guard !loss.fromLogits, loss.reduction != .sum, outputWidth > 0 else { return nil }
        let rows = loss.takesClassIndices ? labels.count : labels.count / outputWidth
        guard rows > 0, loss.takesClassIndices || labels.shape == [rows, outputWidth] else { return nil }
        var mean = [Double](repeating: 0, count: outputWidth)
        if loss.takesClassIndices {
            for index in labels.data { let c = Int(index); if c >= 0 && c < outputWidth { mean[c] += 1 } }
        } else {
            for r in 0..<rows { for c in 0..<outputWidth { mean[c] += Double(labels.data[r * outputWidth + c]) } }
        }
        let row = mean.map { Float($0 / Double(rows)) }
        var output = [Float]()
        output.reserveCapacity(rows * outputWidth)
        for _ in 0..<rows { output += row }
        let evaluation = loss.evaluate(output: Tensor(shape: [rows, outputWidth], data: output), activation: .other,
                                       labels: labels, semantics: semantics)
        let value = Double(evaluation.mean)
        return value.isFinite ? value : nil
    }
}
