import Kernels
import Network

/// What `history.csv` records per epoch beside the loss, gathered batch by batch without
/// copying weights or gradients: the raw gradients' global L2 norm (before any clipnorm) and
/// how many samples sit on the loss's probability clip.
struct BatchSignals {
    private var gradientNormSum = 0.0
    private var gradientNormMax = 0.0
    private var batches = 0
    private var saturated = 0
    private var samples = 0
    private var measuresSaturation = false
    private var pieceSums: [Double] = []

    /// Reads the gradients and output the network holds after a training step.
    mutating func record(_ network: Network) {
        var squares = 0.0
        // The gradients the optimizer receives (frozen layers' are computed but never applied).
        for variable in network.trainableVariables {
            let n = variable.gradient.count
            variable.gradient.withPointer { g in squares += sumOfSquares(g, count: n) }
        }
        let norm = squares.squareRoot()
        gradientNormSum += norm
        gradientNormMax = norm.isNaN || gradientNormMax.isNaN ? .nan : max(gradientNormMax, norm)
        batches += 1
        // Only a softmax or sigmoid output is a probability that the cross-entropies clip.
        guard network.outputActivation != nil else { return }
        measuresSaturation = true
        let output = network.lastOutput
        let width = max(output.shape.last ?? 1, 1)
        let rows = output.count / width
        output.withPointer { p in
            for r in 0..<rows where Saturation.isSaturated(UnsafeBufferPointer(start: p + r * width, count: width)) {
                saturated += 1
            }
        }
        samples += rows
    }

    /// The sum of squares in Double, in pieces of a fixed size spread over the cores and added in
    /// order: the same value whatever the core count (it is part of the bit-identical history).
    private mutating func sumOfSquares(_ g: UnsafePointer<Float>, count n: Int) -> Double {
        let piece = 1 << 15, pieces = (n + piece - 1) / piece
        if pieceSums.count < pieces { pieceSums = [Double](repeating: 0, count: pieces) }
        pieceSums.withUnsafeMutableBufferPointer { sums in
            let sums = sums.baseAddress!
            parallelFor(pieces, minimumWorkPerItem: piece) { p in
                let end = min(n, (p + 1) * piece)
                var a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
                var i = p * piece
                while i + 4 <= end {
                    let x0 = Double(g[i]), x1 = Double(g[i + 1]), x2 = Double(g[i + 2]), x3 = Double(g[i + 3])
                    a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3
                    i += 4
                }
                while i < end { let x = Double(g[i]); a0 += x * x; i += 1 }
                sums[p] = (a0 + a1) + (a2 + a3)
            }
        }
        var total = 0.0
        for p in 0..<pieces { total += pieceSums[p] }
        return total
    }

    /// `grad_norm` is the mean over the epoch's batches, `grad_norm_max` the largest.
    var values: [String: Double] {
        guard batches > 0 else { return [:] }
        var out = ["grad_norm": gradientNormSum / Double(batches), "grad_norm_max": gradientNormMax]
        if measuresSaturation, samples > 0 { out["saturated_fraction"] = Double(saturated) / Double(samples) }
        return out
    }
}

/// Keras clips probabilities to [1e-7, 1 - 1e-7] before taking logs; a sample with an output
/// on or past that clip gets (in Keras 2.2's semantics) no gradient at all.
public enum Saturation {
    public static let low: Float = 1e-7
    public static let high: Float = 1 - 1e-7

    public static func isSaturated(_ probabilities: UnsafeBufferPointer<Float>) -> Bool {
        probabilities.contains { $0 <= low || $0 >= high }
    }
}
