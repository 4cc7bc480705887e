/// `dst` (columns, rows) = the transpose of `src` (rows, columns).
/// In 8 x 8 blocks, so that both sides stay within a few cache lines.
public func transpose(_ src: UnsafePointer<Float>, rows: Int, columns: Int, into dst: UnsafeMutablePointer<Float>) {
    for r0 in stride(from: 0, to: rows, by: 8) {
        let r1 = min(r0 + 8, rows)
        for c0 in stride(from: 0, to: columns, by: 8) {
            for c in c0..<min(c0 + 8, columns) {
                let d = dst + c * rows
                for r in r0..<r1 { d[r] = src[r * columns + c] }
            }
        }
    }
}
