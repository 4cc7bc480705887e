import Foundation

/// Element-wise activations and softmax over the last axis, forward and backward. The backward
/// functions take the forward *output* `y` (all of these derivatives are functions of it).
public enum ActivationKernel: Sendable, Equatable {
    case linear, relu, sigmoid, tanh
    /// Softmax over contiguous rows of `rowLength` values (the tensor's last axis).
    case softmax(rowLength: Int)

    /// y = f(x) for `count` values; `x` and `y` may be the same buffer.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
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
            precondition(n > 0 && count % n == 0)
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

    /// dx = f'(x) dy, from the forward output `y`; `dy` and `dx` may be the same buffer.
    public func backward(output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
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
