import Foundation

/// sparse_categorical_crossentropy on probabilities as TensorFlow computes it (Keras 2.2's
/// `keras/backend/tensorflow_backend.py`, tf-keras's `tf_keras/src/backend.py`, Keras 3's
/// `keras/src/backend/tensorflow/nn.py`): clip to [eps, 1 - eps], take the log, and hand that
/// to `tf.nn.sparse_softmax_cross_entropy_with_logits`. The softmax of log(clipped p) renormalises
/// the clipped row, so the loss is `log(sum c) - log(c_label)`. Keras 3 on JAX instead
/// normalises first, then clips (`CategoricalCrossentropy.onProbabilities` on one-hot labels).
/// The other paths (logits, cached logits) are categorical crossentropy on one-hot labels.
enum SparseCategoricalCrossentropy {
    /// `y` holds one-hot rows.
    static func throughLog(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        var losses = [Double](repeating: 0, count: rows.count)
        var gradient = [Double](repeating: 0, count: p.count)
        for r in 0..<rows.count {
            let row = (r * rows.width)..<((r + 1) * rows.width)
            let clipped = row.map { clipToEpsilon(p[$0]) }
            let sum = clipped.reduce(0.0) { $0 + Double($1.value) }
            var loss = log(sum)
            for (k, i) in row.enumerated() {
                let c = Double(clipped[k].value)
                loss -= Double(y[i]) * log(c)
                // d/dl (softmax(l) - onehot) through l = log c: (c / sum - y) / c, zero where the clip bites.
                gradient[i] = clipped[k].passes ? 1 / sum - Double(y[i]) / c : 0
            }
            losses[r] = loss
        }
        return RowView.Partial(losses: losses, gradient: gradient)
    }
}
