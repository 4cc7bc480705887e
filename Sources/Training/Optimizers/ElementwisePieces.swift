import Kernels

/// Runs `body` over `0..<count` cut into pieces spread over the cores. For element-wise updates
/// only (each index written by its own piece), so the result is the same however it is cut.
func forEachPiece(of count: Int, _ body: (Range<Int>) -> Void) {
    let piece = 1 << 15
    let pieces = (count + piece - 1) / piece
    parallelFor(pieces, minimumWorkPerItem: piece) { p in body((p * piece)..<min(count, (p + 1) * piece)) }
}
