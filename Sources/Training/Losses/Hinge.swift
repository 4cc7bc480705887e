/// hinge, squared_hinge and categorical_hinge (tf_keras/src/losses.py, keras/src/losses/losses.py,
/// Keras 2.2's keras/losses.py). `tf.maximum(a, b)` sends the gradient to `a` where a >= b, so
/// at a tie it flows through the first argument.
enum Hinge {
    /// tf.keras and Keras 3 turn 0/1 labels into -1/1 when every label in the batch is 0 or 1
    /// (`_maybe_convert_labels`, `convert_binary_labels_to_hinge`); Keras 2.2 does not.
    static func labels(_ y: [Float], _ semantics: LossSemantics) -> [Float] {
        guard semantics != .keras22, y.allSatisfy({ $0 == 0 || $0 == 1 }) else { return y }
        return y.map { 2 * $0 - 1 }
    }

    /// `mean(max(1 - y p, 0))`.
    static func hinge(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in
            let margin = 1 - y * p
            return (max(margin, 0), margin >= 0 ? -y : 0)
        }
    }

    /// `mean(max(1 - y p, 0)^2)`.
    static func squared(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in
            let margin = max(1 - y * p, 0)
            return (margin * margin, -2 * y * margin)
        }
    }

    /// `max(neg - pos + 1, 0)` with pos = sum(y p), neg = max((1 - y) p) per row. tf.keras and
    /// Keras 3 write `maximum(neg - pos + 1, 0)` (gradient at a tie), Keras 2.2
    /// `maximum(0, neg - pos + 1)` (none). `reduce_max` shares its gradient equally among ties.
    static func categorical(_ p: [Float], _ y: [Float], _ rows: RowView, _ semantics: LossSemantics) -> RowView.Partial {
        var losses = [Double](repeating: 0, count: rows.count)
        var gradient = [Double](repeating: 0, count: p.count)
        for r in 0..<rows.count {
            let row = (r * rows.width)..<((r + 1) * rows.width)
            let pos = row.reduce(0.0) { $0 + Double(y[$1]) * Double(p[$1]) }
            let others = row.map { (1 - Double(y[$0])) * Double(p[$0]) }
            let neg = others.max()!
            let value = neg - pos + 1
            losses[r] = max(value, 0)
            guard semantics == .keras22 ? value > 0 : value >= 0 else { continue }
            let maxima = Double(others.filter { $0 == neg }.count)
            for (k, i) in row.enumerated() {
                let fromNeg = others[k] == neg ? (1 - Double(y[i])) / maxima : 0
                gradient[i] = fromNeg - Double(y[i])
            }
        }
        return RowView.Partial(losses: losses, gradient: gradient)
    }
}
