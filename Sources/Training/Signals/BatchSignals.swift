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

    /// Reads the gradients and output the network holds after a training step.
    mutating func record(_ network: Network) {
        var squares = 0.0
        for variable in network.variables {
            let n = variable.gradient.count
            variable.gradient.withPointer { g in
                for i in 0..<n { squares += Double(g[i]) * Double(g[i]) }
            }
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
