import Foundation

/// kl_divergence (Keras 2.2's kullback_leibler_divergence): `sum(y log(y / p))` over the last
/// axis with y and p clipped to [eps, 1] (tf_keras/src/losses.py, keras/src/losses/losses.py,
/// keras/losses.py). The clip stops p's gradient strictly outside [eps, 1].
enum KLDivergence {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.sumOverLastAxis(p, y) { p, y in
            let yc = min(max(y, kerasEpsilonDouble), 1)
            let pc = min(max(p, kerasEpsilonDouble), 1)
            let passes = p >= kerasEpsilonDouble && p <= 1
            return (yc * log(yc / pc), passes ? -yc / pc : 0)
        }
    }
}
