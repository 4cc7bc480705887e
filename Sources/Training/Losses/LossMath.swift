import Foundation
import Kernels

/// Keras's fuzz factor `backend.epsilon()`, as the float32 constant every backend turns it into.
let kerasEpsilon = Float(1e-7)
/// `1 - epsilon`: in float32 (Keras 2.2, tf.keras) or rounded from Python's double (Keras 3);
/// both give 0.99999988.
let kerasOneMinusEpsilon: Float = 1 - kerasEpsilon

/// The output seen as rows along its last axis: every loss reduces that axis per sample.
struct RowView {
    let shape: [Int]
    let width: Int
    let count: Int

    init(_ shape: [Int]) {
        self.shape = shape
        width = shape.last!
        count = width == 0 ? 0 : shape.reduce(1, *) / width
    }

    /// Per-row losses and the gradient of their SUM; `finish` scales both to the reduction.
    struct Partial {
        var losses: [Double]
        var gradient: [Double]
    }

    /// The reduced, weighted batch loss and its gradient: the per-row sum's gradient times
    /// 1/rows (sum_over_batch_size) or 1 (sum), times the loss weight.
    func finish(_ partial: Partial, asLogits: Bool, reduction: LossReduction = .sumOverBatchSize,
                weight: Double = 1) -> LossEvaluation {
        let mean = count == 0 ? 0 : 1 / Double(count)
        // The value reported (a `none` batch reports its per-sample mean) and the one minimised
        // (`none` differentiates the sum).
        let reported = (reduction == .sum ? 1 : mean) * weight
        let minimised = (reduction == .sumOverBatchSize ? mean : 1) * weight
        let perSample = Tensor(shape: Array(shape.dropLast()), data: partial.losses.map { Float($0) })
        let total = partial.losses.reduce(0, +)
        let value = Float(total * reported)
        let unweighted = Float(total * (reduction == .sum ? 1 : mean))
        let gradient = Tensor(shape: shape, data: partial.gradient.map { Float($0 * minimised) })
        return LossEvaluation(perSample: perSample, mean: value, unweighted: unweighted,
                              gradient: asLogits ? .logits(gradient) : .output(gradient))
    }
}

/// `tf.clip_by_value` to Keras's [epsilon, 1 - epsilon]; the flag says whether the gradient
/// passes. It passes on the bounds themselves and stops only strictly outside them.
@inline(__always)
func clipToEpsilon(_ p: Float) -> (value: Float, passes: Bool) {
    if p < kerasEpsilon { return (kerasEpsilon, false) }
    if p > kerasOneMinusEpsilon { return (kerasOneMinusEpsilon, false) }
    return (p, true)
}

@inline(__always)
func sigmoid(_ z: Double) -> Double {
    z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
}

/// log(1 + e^x) without overflow.
@inline(__always)
func softplus(_ x: Double) -> Double {
    max(x, 0) + log1p(exp(-abs(x)))
}

/// Row-wise softmax, as the network computes it; here for tests and reference values.
func softmax(rows x: Tensor) -> Tensor {
    let width = x.shape.last ?? 1
    var out = x.data
    guard width > 0 else { return x }
    for start in stride(from: 0, to: out.count, by: width) {
        let row = start..<(start + width)
        let top = out[row].max()!
        var sum: Float = 0
        for i in row { out[i] = Foundation.exp(out[i] - top); sum += out[i] }
        for i in row { out[i] /= sum }
    }
    return Tensor(shape: x.shape, data: out)
}

extension RowView {
    /// Applies an element formula (loss, d loss / d input) and averages over the last axis.
    func meanOverLastAxis(_ x: [Float], _ y: [Float], _ f: (Double, Double) -> (Double, Double)) -> Partial {
        var losses = [Double](repeating: 0, count: count)
        var gradient = [Double](repeating: 0, count: x.count)
        let w = Double(width)
        for r in 0..<count {
            var sum = 0.0
            for i in (r * width)..<((r + 1) * width) {
                let (l, g) = f(Double(x[i]), Double(y[i]))
                sum += l
                gradient[i] = g / w
            }
            losses[r] = sum / w
        }
        return Partial(losses: losses, gradient: gradient)
    }

    /// Applies an element formula (loss, d loss / d input) and sums over the last axis.
    func sumOverLastAxis(_ x: [Float], _ y: [Float], _ f: (Double, Double) -> (Double, Double)) -> Partial {
        var losses = [Double](repeating: 0, count: count)
        var gradient = [Double](repeating: 0, count: x.count)
        for r in 0..<count {
            var sum = 0.0
            for i in (r * width)..<((r + 1) * width) {
                let (l, g) = f(Double(x[i]), Double(y[i]))
                sum += l
                gradient[i] = g
            }
            losses[r] = sum
        }
        return Partial(losses: losses, gradient: gradient)
    }
}

/// Keras's fuzz factor as the float32 value the formulas compute with, in double.
let kerasEpsilonDouble = Double(kerasEpsilon)
