/// mean_absolute_percentage_error: `100 mean(|(y - p) / max(|y|, eps)|)` over the last axis
/// (tf_keras/src/losses.py, keras/src/losses/losses.py; Keras 2.2's `clip(|y|, eps, None)` is
/// the same divisor).
enum MeanAbsolutePercentageError {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in
            let divisor = max(abs(y), kerasEpsilonDouble)
            return (100 * abs((y - p) / divisor), 100 * sign(p - y) / divisor)
        }
    }
}
