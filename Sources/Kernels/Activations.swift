import Foundation

/// Element-wise activations and softmax over the last axis, forward and backward. The backward
/// functions take the forward *output* `y` (all of these derivatives are functions of it).
public enum ActivationKernel: Sendable, Equatable {
    case linear, relu, sigmoid, tanh
    /// Softmax over contiguous rows of `rowLength` values (the tensor's last axis).
    case softmax(rowLength: Int)

    /// y = f(x) for `count` values; `x` and `y` may be the same buffer. Pieces run on all cores
    /// (whole rows for softmax): every value is computed alone, so the split never shows.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        eachPiece(count: count) { start, n in forwardPiece(x + start, y + start, count: n) }
    }

    /// dx = f'(x) dy, from the forward output `y`; `dy` and `dx` may be the same buffer.
    public func backward(output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
                         gradInput dx: UnsafeMutablePointer<Float>, count: Int) {
        eachPiece(count: count) { start, n in backwardPiece(output: y + start, gradOutput: dy + start, gradInput: dx + start, count: n) }
    }

    /// Cuts `0..<count` into pieces of about 64K values (whole softmax rows) over the cores.
    private func eachPiece(count: Int, _ body: (Int, Int) -> Void) {
        var unit = 1
        if case .softmax(let n) = self { precondition(n > 0 && count % n == 0); unit = n }
        let piece = max(1, (1 << 16) / unit) * unit
        let pieces = (count + piece - 1) / piece
        parallelFor(pieces, minimumWorkPerItem: piece) { p in body(p * piece, min(piece, count - p * piece)) }
    }

    private func forwardPiece(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .linear:
            if UnsafePointer(y) != x { y.update(from: x, count: count) }
        case .relu:
            for i in 0..<count { y[i] = max(x[i], 0) }
        case .sigmoid:
            for i in 0..<count { y[i] = 1 / (1 + expf(-x[i])) }
        case .tanh:
            for i in 0..<count { y[i] = tanhf(x[i]) }
        case .softmax(let n):
            for r in 0..<(count / n) {
                let xr = x + r * n, yr = y + r * n
                var m = -Float.infinity
                for j in 0..<n { m = max(m, xr[j]) }
                var s: Float = 0
                for j in 0..<n { let e = expf(xr[j] - m); yr[j] = e; s += e }
                let inv = 1 / s
                for j in 0..<n { yr[j] *= inv }
            }
        }
    }

    private func backwardPiece(output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
                               gradInput dx: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .linear:
            if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
        case .relu:
            for i in 0..<count { dx[i] = y[i] > 0 ? dy[i] : 0 }
        case .sigmoid:
            for i in 0..<count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        case .tanh:
            for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
        case .softmax(let n):
            for r in 0..<(count / n) {
                let yr = y + r * n, gr = dy + r * n, dr = dx + r * n
                var dot: Float = 0
                for j in 0..<n { dot += gr[j] * yr[j] }
                for j in 0..<n { dr[j] = yr[j] * (gr[j] - dot) }
            }
        }
    }
}
