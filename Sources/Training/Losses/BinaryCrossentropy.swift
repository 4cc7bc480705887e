import Foundation

/// binary_crossentropy, mean over the last axis, in each Keras's own formula.
enum BinaryCrossentropy {
    /// tf.keras's shortcut (`tf.nn.sigmoid_cross_entropy_with_logits` on the cached logits).
    static func onLogits(_ z: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(z, y) { z, y in
            (max(z, 0) - z * y + log1p(exp(-abs(z))), sigmoid(z) - y)
        }
    }

    static func onProbabilities(_ p: [Float], _ y: [Float], _ rows: RowView, _ semantics: LossSemantics) -> RowView.Partial {
        let eps = kerasEpsilonDouble
        return rows.meanOverLastAxis(p, y) { raw, y in
            let (clipped, passes) = clipToEpsilon(Float(raw))
            let q = Double(clipped)
            let loss: Double, dq: Double
            switch semantics {
            case .keras22:
                // Back to a logit, then the logits formula; d logit / dq = 1 / (q (1 - q)).
                let z = log(q / (1 - q))
                loss = max(z, 0) - z * y + log1p(exp(-abs(z)))
                dq = (sigmoid(z) - y) / (q * (1 - q))
            case .tfKeras:
                loss = -(y * log(q + eps) + (1 - y) * log(1 - q + eps))
                dq = -(y / (q + eps) - (1 - y) / (1 - q + eps))
            case .keras3, .keras3TensorFlow:
                loss = -(y * log(q) + (1 - y) * log(1 - q))
                dq = -(y / q - (1 - y) / (1 - q))
            }
            return (loss, passes ? dq : 0)
        }
    }
}
