/// mean_absolute_error: `mean(|p - y|)` over the last axis, the same in every Keras. `tf.abs`'s
/// gradient at 0 is sign(0) = 0.
enum MeanAbsoluteError {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView) -> RowView.Partial {
        rows.meanOverLastAxis(p, y) { p, y in (abs(p - y), sign(p - y)) }
    }
}

@inline(__always)
func sign(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }
