import Foundation

/// Element-wise activations and (log-)softmax over the last axis, forward and backward, each in
/// the float32 formula TensorFlow's kernel uses (tensorflow/core/kernels/relu_op_functor.h,
/// softplus_op.h, softsign_op.h; tf.nn.silu and tf.nn.gelu in nn_impl.py / nn_ops.py) and the
/// gradient TensorFlow registers for it. The backward takes both the forward's input `x` and
/// output `y`: each derivative reads whichever TensorFlow's gradient reads.
public enum ActivationKernel: Sendable, Equatable {
    case linear, relu, sigmoid, tanh
    /// Softmax over contiguous rows of `rowLength` values (the tensor's last axis).
    case softmax(rowLength: Int)
    /// log(softmax) over rows, as tf.nn.log_softmax: x - max - log(sum(exp(x - max))).
    case logSoftmax(rowLength: Int)
    /// tf.nn.elu (expm1 below zero); `alpha` != 1 as Keras: where(x > 0, elu(x), alpha * elu(x)).
    case elu(alpha: Float)
    case selu, softplus, softsign, exponential
    /// x * sigmoid(x) (tf.nn.silu, Keras's swish and silu).
    case swish
    /// x * tanh(softplus(x)).
    case mish
    /// 0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation.
    case gelu(approximate: Bool)
    /// clip(0.2 x + 0.5, 0, 1): Keras 2.2's and tf.keras's hard_sigmoid.
    case hardSigmoid
    /// relu6(x + 3) / 6: Keras 3's hard_sigmoid.
    case hardSigmoidRelu6
    /// x * relu6(x + 3) / 6: Keras 3's hard_silu / hard_swish.
    case hardSilu
    case relu6
    /// x > 0 ? x : slope * x (tf.nn.leaky_relu).
    case leakyRelu(slope: Float)
    /// Keras's relu with its options, in backend.relu's steps (tf_keras/src/backend.py `relu`,
    /// keras/src/activations/activations.py `ReLU.static_call`): below `threshold` zero (or
    /// `slope` times the distance), above it x, clipped at `maxValue`.
    case generalRelu(slope: Float, maxValue: Float?, threshold: Float)

    /// y = f(x) for `count` values; `x` and `y` may be the same buffer. Pieces run on all cores
    /// (whole rows for softmax): every value is computed alone, so the split never shows.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        eachPiece(count: count) { start, n in forwardPiece(x + start, y + start, count: n) }
    }

    /// dx = f'(x) dy, from the forward's input `x` and output `y`; `dy` and `dx` may be the same
    /// buffer (`x` and `y` must not be `dx`).
    public func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
                         gradInput dx: UnsafeMutablePointer<Float>, count: Int) {
        eachPiece(count: count) { start, n in
            backwardPiece(input: x + start, output: y + start, gradOutput: dy + start, gradInput: dx + start, count: n)
        }
    }

    /// Whether the backward needs the forward's input (else only its output).
    public var backwardReadsInput: Bool {
        switch self {
        case .linear, .relu, .sigmoid, .tanh, .softmax, .logSoftmax, .selu, .exponential: return false
        default: return true
        }
    }

    /// Cuts `0..<count` into pieces of about 64K values (whole softmax rows) over the cores.
    private func eachPiece(count: Int, _ body: (Int, Int) -> Void) {
        var unit = 1
        switch self {
        case .softmax(let n), .logSoftmax(let n): precondition(n > 0 && count % n == 0); unit = n
        default: break
        }
        let piece = max(1, (1 << 16) / unit) * unit
        let pieces = (count + piece - 1) / piece
        parallelFor(pieces, minimumWorkPerItem: piece) { p in body(p * piece, min(piece, count - p * piece)) }
    }

    // SELU's constants as TensorFlow's kernel has them (relu_op_functor.h).
    private static let seluScale: Float = 1.0507009873554804934193349852946
    private static let seluScaleAlpha: Float = 1.7580993408473768599402175208123
    /// Eigen's softplus cut-offs: log(float epsilon) + 2 (softplus_op.h).
    private static let softplusThreshold: Float = logf(Float.ulpOfOne) + 2

    @inline(__always) private static func softplus(_ x: Float) -> Float {
        if x > -softplusThreshold { return x }
        let e = expf(x)
        return x < softplusThreshold ? e : log1pf(e)
    }

    @inline(__always) private static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

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
        case .logSoftmax(let n):
            for r in 0..<(count / n) {
                let xr = x + r * n, yr = y + r * n
                var m = -Float.infinity
                for j in 0..<n { m = max(m, xr[j]) }
                var s: Float = 0
                for j in 0..<n { s += expf(xr[j] - m) }
                let l = logf(s)
                for j in 0..<n { yr[j] = (xr[j] - m) - l }
            }
        case .elu(let alpha):
            for i in 0..<count {
                let v = x[i], e = v < 0 ? expm1f(v) : v
                y[i] = alpha == 1 || v > 0 ? e : alpha * e
            }
        case .selu:
            for i in 0..<count { let v = x[i]; y[i] = v < 0 ? Self.seluScaleAlpha * expm1f(v) : Self.seluScale * v }
        case .softplus:
            for i in 0..<count { y[i] = Self.softplus(x[i]) }
        case .softsign:
            for i in 0..<count { y[i] = x[i] / (1 + abs(x[i])) }
        case .exponential:
            for i in 0..<count { y[i] = expf(x[i]) }
        case .swish:
            for i in 0..<count { y[i] = x[i] * Self.sigmoid(x[i]) }
        case .mish:
            for i in 0..<count { y[i] = x[i] * tanhf(Self.softplus(x[i])) }
        case .gelu(let approximate):
            if approximate {
                for i in 0..<count {
                    let v = x[i]
                    y[i] = 0.5 * v * (1 + tanhf(0.7978845608028654 * (v + 0.044715 * (v * v * v))))
                }
            } else {
                for i in 0..<count { y[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.7071067811865476)) }
            }
        case .hardSigmoid:
            for i in 0..<count { y[i] = min(max(x[i] * 0.2 + 0.5, 0), 1) }
        case .hardSigmoidRelu6:
            for i in 0..<count { y[i] = min(max(x[i] + 3, 0), 6) / 6 }
        case .hardSilu:
            for i in 0..<count { y[i] = x[i] * (min(max(x[i] + 3, 0), 6) / 6) }
        case .relu6:
            for i in 0..<count { y[i] = min(max(x[i], 0), 6) }
        case .leakyRelu(let a):
            for i in 0..<count { y[i] = x[i] > 0 ? x[i] : x[i] * a }
        case .generalRelu(let slope, let maxValue, let threshold):
            for i in 0..<count {
                let v = x[i]
                var r: Float = threshold != 0 ? (v > threshold ? v : 0) : (maxValue == 6 ? min(max(v, 0), 6) : max(v, 0))
                if let m = maxValue, !(threshold == 0 && m == 6) { r = min(max(r, 0), m) }
                if slope != 0 { r -= slope * max(threshold - v, 0) }
                y[i] = r
            }
        }
    }

    private func backwardPiece(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
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
        case .logSoftmax(let n):
            // TensorFlow's LogSoftmax gradient: dy - exp(y) * sum(dy).
            for r in 0..<(count / n) {
                let yr = y + r * n, gr = dy + r * n, dr = dx + r * n
                var s: Float = 0
                for j in 0..<n { s += gr[j] }
                for j in 0..<n { dr[j] = gr[j] - expf(yr[j]) * s }
            }
        case .elu(let alpha):
            // EluGrad on tf.nn.elu's output e: e < 0 ? dy (e + 1) : dy; alpha scales below zero.
            for i in 0..<count {
                let v = x[i], e = v < 0 ? expm1f(v) : v
                let g = e < 0 ? dy[i] * (e + 1) : dy[i]
                dx[i] = alpha == 1 || v > 0 ? g : alpha * g
            }
        case .selu:
            for i in 0..<count { dx[i] = y[i] < 0 ? dy[i] * (y[i] + Self.seluScaleAlpha) : dy[i] * Self.seluScale }
        case .softplus:
            for i in 0..<count { dx[i] = dy[i] / (1 + expf(-x[i])) }
        case .softsign:
            for i in 0..<count { let d = 1 + abs(x[i]); dx[i] = dy[i] / (d * d) }
        case .exponential:
            for i in 0..<count { dx[i] = dy[i] * y[i] }
        case .swish:
            // tf.nn.silu's custom gradient: s (1 + x (1 - s)).
            for i in 0..<count { let s = Self.sigmoid(x[i]); dx[i] = dy[i] * (s * (1 + x[i] * (1 - s))) }
        case .mish:
            for i in 0..<count {
                let v = x[i], t = tanhf(Self.softplus(v))
                dx[i] = dy[i] * t + dy[i] * v * (1 - t * t) * Self.sigmoid(v)
            }
        case .gelu(let approximate):
            if approximate {
                for i in 0..<count {
                    let v = x[i], c: Float = 0.7978845608028654
                    let t = tanhf(c * (v + 0.044715 * (v * v * v)))
                    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v))
                }
            } else {
                for i in 0..<count {
                    let v = x[i], c: Float = 0.7071067811865476, u = v * c
                    dx[i] = dy[i] * (0.5 * (1 + erff(u)) + 0.5 * v * (1.1283791670955126 * expf(-u * u)) * c)
                }
            }
        case .hardSigmoid:
            // tf.clip_by_value passes the gradient on the bounds too.
            for i in 0..<count { let t = x[i] * 0.2 + 0.5; dx[i] = t >= 0 && t <= 1 ? dy[i] * 0.2 : 0 }
        case .hardSigmoidRelu6:
            for i in 0..<count { let t = x[i] + 3; dx[i] = t > 0 && t < 6 ? dy[i] / 6 : 0 }
        case .hardSilu:
            for i in 0..<count {
                let v = x[i], t = v + 3, h = min(max(t, 0), 6) / 6
                dx[i] = dy[i] * h + (t > 0 && t < 6 ? (dy[i] * v) / 6 : 0)
            }
        case .relu6:
            for i in 0..<count { dx[i] = x[i] > 0 && x[i] < 6 ? dy[i] : 0 }
        case .leakyRelu(let a):
            for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : dy[i] * a }
        case .generalRelu(let slope, let maxValue, let threshold):
            for i in 0..<count {
                let v = x[i]
                var pass: Bool
                var r: Float
                if threshold != 0 {
                    pass = v > threshold; r = pass ? v : 0
                } else if maxValue == 6 {
                    pass = v > 0 && v < 6; r = min(max(v, 0), 6)
                } else {
                    pass = v > 0; r = max(v, 0)
                }
                if let m = maxValue, !(threshold == 0 && m == 6) { pass = pass && r >= 0 && r <= m }
                var g: Float = pass ? dy[i] : 0
                if slope != 0, threshold - v > 0 { g += slope * dy[i] }
                dx[i] = g
            }
        }
    }
}
