import Foundation

/// categorical_crossentropy: `-sum y log p` over the last axis.
enum CategoricalCrossentropy {
    /// `tf.nn.softmax_cross_entropy_with_logits` (from_logits, or tf.keras's shortcut on the
    /// cached logits). TensorFlow's gradient is `softmax(z) - y`, exact only when each label row
    /// sums to 1; TensorFlow trains with that, so we do too. Keras 3 on JAX differentiates
    /// `-sum y log_softmax(z)` (keras/src/backend/jax/nn.py): `sum(y) softmax(z) - y`
    /// (`exactGradient`).
    static func onLogits(_ z: [Float], _ y: [Float], _ rows: RowView, exactGradient: Bool = false) -> RowView.Partial {
        var losses = [Double](repeating: 0, count: rows.count)
        var gradient = [Double](repeating: 0, count: z.count)
        for r in 0..<rows.count {
            let row = (r * rows.width)..<((r + 1) * rows.width)
            let top = Double(row.map { z[$0] }.max()!)
            let logSum = log(row.reduce(0.0) { $0 + exp(Double(z[$1]) - top) })
            let labelSum = exactGradient ? row.reduce(0.0) { $0 + Double(y[$1]) } : 1
            var loss = 0.0
            for i in row {
                let shifted = Double(z[i]) - top
                loss += Double(y[i]) * (logSum - shifted)
                gradient[i] = labelSum * exp(shifted - logSum) - Double(y[i])
            }
            losses[r] = loss
        }
        return RowView.Partial(losses: losses, gradient: gradient)
    }

    /// Keras 2.2, tf.keras without the shortcut and Keras 3 agree: divide by the row sum, clip
    /// to [eps, 1 - eps], `-sum y log p`.
    static func onProbabilities(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        var losses = [Double](repeating: 0, count: rows.count)
        var gradient = [Double](repeating: 0, count: p.count)
        for r in 0..<rows.count {
            let row = (r * rows.width)..<((r + 1) * rows.width)
            let sum = row.reduce(Float(0)) { $0 + p[$1] }
            var loss = 0.0
            // d loss / d normalised p, zero where the clip bites.
            var dNormalised = [Double](repeating: 0, count: rows.width)
            for (k, i) in row.enumerated() {
                let (clipped, passes) = clipToEpsilon(p[i] / sum)
                let q = Double(clipped)
                loss -= Double(y[i]) * log(q)
                dNormalised[k] = passes ? -Double(y[i]) / q : 0
            }
            // Through the division by the row sum: d(p_j / s) / d p_i = δij / s - p_j / s².
            let s = Double(sum)
            let weighted = row.enumerated().reduce(0.0) { $0 + dNormalised[$1.offset] * Double(p[$1.element]) }
            for (k, i) in row.enumerated() {
                gradient[i] = dNormalised[k] / s - weighted / (s * s)
            }
            losses[r] = loss
        }
        return RowView.Partial(losses: losses, gradient: gradient)
    }
}
