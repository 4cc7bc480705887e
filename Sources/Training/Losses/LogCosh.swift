import Foundation

/// logcosh: Keras's overflow-safe `x + softplus(-2x) - log(2)`, the same in every Keras.
enum LogCosh {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in
            let x = p - y
            return (x + softplus(-2 * x) - log(2.0), tanh(x))
        }
    }
}
