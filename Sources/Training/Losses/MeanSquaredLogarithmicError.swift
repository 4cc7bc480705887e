import Foundation

/// mean_squared_logarithmic_error: `mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2)`
/// over the last axis (tf_keras/src/losses.py, keras/src/losses/losses.py; Keras 2.2 clips to
/// [eps, inf), the same function). `tf.maximum` and `tf.clip_by_value` pass the gradient on
/// the bound itself and stop it below.
enum MeanSquaredLogarithmicError {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in
            let shifted = max(p, kerasEpsilonDouble) + 1
            let difference = log(shifted) - log(max(y, kerasEpsilonDouble) + 1)
            return (difference * difference, p >= kerasEpsilonDouble ? 2 * difference / shifted : 0)
        }
    }
}
