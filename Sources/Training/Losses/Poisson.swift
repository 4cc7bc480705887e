import Foundation

/// poisson: `mean(p - y log(p + eps))` over the last axis, the same in every Keras.
enum Poisson {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in
            (p - y * log(p + kerasEpsilonDouble), 1 - y / (p + kerasEpsilonDouble))
        }
    }
}
