/// huber: `mean(|e| <= delta ? e^2 / 2 : delta |e| - delta^2 / 2)` with e = p - y, over the last
/// axis (`huber` in tf_keras/src/losses.py and keras/src/losses/losses.py; Keras 2.2 has none).
/// Keras 3's `Huber.get_config` does not save delta, so a Keras 3 file's Huber reloads with 1.
enum Huber {
    static func evaluate(_ p: [Float], _ y: [Float], _ rows: RowView, delta: Float) -> RowView.Partial {
        let d = Double(delta)
        return rows.meanOverLastAxis(p, y) { p, y in
            let e = p - y
            if abs(e) <= d { return (0.5 * e * e, e) }
            return (d * abs(e) - 0.5 * d * d, d * sign(e))
        }
    }
}
