/// mean_squared_error: `mean((p - y)^2)` over the last axis, the same in every Keras.
enum MeanSquaredError {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in ((p - y) * (p - y), 2 * (p - y)) }
    }
}
