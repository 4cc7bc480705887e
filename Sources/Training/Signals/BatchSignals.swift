import Foundation
import Kernels
import Network

/// One training step's signals, for `relapse bisect` and the epoch means in `history.csv`.
public struct BatchSignalValues: Sendable, Equatable {
    /// The raw gradients' global L2 norm (before any clipnorm).
    public var gradNorm: Double
    /// Per layer (execution order of the trainable weights): the gradient's L2 norm.
    public var layerGradNorms: [(layer: String, norm: Double)]
    /// Per layer: ||w_after - w_before|| / ||w_before|| for this step (nil where ||w_before|| is 0).
    public var updateRatios: [(layer: String, ratio: Double?)]
    /// StableAdamW's update RMS, sqrt(mean(g^2 / max(v_hat, eps^2))), largest over the weights;
    /// nil for other optimizers.
    public var adamUpdateRMS: Double?

    public static func == (a: Self, b: Self) -> Bool {
        a.gradNorm.bitPattern == b.gradNorm.bitPattern && a.adamUpdateRMS?.bitPattern == b.adamUpdateRMS?.bitPattern
            && a.layerGradNorms.map(\.norm.bitPattern) == b.layerGradNorms.map(\.norm.bitPattern)
            && a.updateRatios.map(\.ratio?.bitPattern) == b.updateRatios.map(\.ratio?.bitPattern)
    }
}

/// What `history.csv` records per epoch beside the loss, gathered batch by batch: the raw
/// gradients' global and per-layer L2 norms (before any clipnorm), each layer's update-to-weight
/// ratio, Adam's update RMS (StableAdamW), and how many samples sit on the loss's probability
/// clip (over every softmax or sigmoid output). Every sum is taken in a fixed order, so the values are the same whatever the core
/// count (they are part of the bit-identical history).
struct BatchSignals {
    private var gradientNormSum = 0.0
    private var gradientNormMax = 0.0
    private var batches = 0
    private var saturated = 0
    private var samples = 0
    private var measuresSaturation = false
    private var pieceSums: [Double] = []
    private var layerGradientSums: [String: Double] = [:]
    private var firstKernelSum = 0.0, lastKernelSum = 0.0
    private var updateRatioSums: [String: (sum: Double, count: Int)] = [:]
    private var adamRMSSum = 0.0, adamRMSMax = 0.0, adamSteps = 0
    /// The trainable weights' values before the step, for the update ratios.
    private var before: [[Float]] = []
    /// The last step's values.
    private(set) var last: BatchSignalValues?

    /// Keeps a copy of the trainable weights, before the optimizer moves them.
    mutating func beforeStep(_ network: Network) {
        let variables = network.trainableVariables
        if before.count != variables.count { before = Array(repeating: [], count: variables.count) }
        for (i, variable) in variables.enumerated() {
            if before[i].count != variable.value.count {
                before[i] = variable.value.data
            } else {
                variable.value.data.withUnsafeBufferPointer { from in
                    before[i].withUnsafeMutableBufferPointer { to in
                        // In pieces over the cores: one copy of every weight per step.
                        let f = from.baseAddress!, t = to.baseAddress!, n = from.count, piece = 1 << 16
                        parallelFor((n + piece - 1) / piece, minimumWorkPerItem: piece) { p in
                            (t + p * piece).update(from: f + p * piece, count: min(piece, n - p * piece))
                        }
                    }
                }
            }
        }
    }

    /// Steps between measurements of the update ratios and Adam's update RMS during training.
    static let measureEvery = 4

    /// Reads the gradients, weights, optimizer state and output after a training step;
    /// `measureUpdates`: also the update ratios (`beforeStep` was called) and Adam's update RMS.
    mutating func record(_ network: Network, optimizer: Optimizer, measureUpdates: Bool = true) {
        let variables = network.trainableVariables
        var squares = 0.0
        var layerSquares: [(String, Double)] = []
        var kernels: [(String, Double)] = []
        var updateSquares: [(String, Double, Double)] = []
        for (i, variable) in variables.enumerated() {
            let n = variable.gradient.count
            let s = variable.gradient.withPointer { g in sumOfSquares(g, count: n) }
            squares += s
            if let last = layerSquares.last, last.0 == variable.layerName {
                layerSquares[layerSquares.count - 1].1 += s
            } else {
                layerSquares.append((variable.layerName, s))
                kernels.append((variable.layerName, s))
            }
            if measureUpdates, i < before.count, before[i].count == variable.value.count {
                let (delta, weight) = Self.updateSquares(before[i], variable.value.data)
                if let last = updateSquares.last, last.0 == variable.layerName {
                    updateSquares[updateSquares.count - 1].1 += delta
                    updateSquares[updateSquares.count - 1].2 += weight
                } else {
                    updateSquares.append((variable.layerName, delta, weight))
                }
            }
        }
        let norm = squares.squareRoot()
        gradientNormSum += norm
        gradientNormMax = norm.isNaN || gradientNormMax.isNaN ? .nan : max(gradientNormMax, norm)
        batches += 1
        for (layer, s) in layerSquares { layerGradientSums[layer, default: 0] += s.squareRoot() }
        if let first = kernels.first, let final = kernels.last {
            firstKernelSum += first.1.squareRoot()
            lastKernelSum += final.1.squareRoot()
        }
        var ratios: [(layer: String, ratio: Double?)] = []
        for (layer, delta, weight) in updateSquares {
            let ratio: Double? = weight > 0 ? (delta / weight).squareRoot() : nil
            ratios.append((layer, ratio))
            if let ratio {
                let old = updateRatioSums[layer] ?? (0, 0)
                updateRatioSums[layer] = (old.sum + ratio, old.count + 1)
            }
        }
        let rms = measureUpdates ? optimizer.adamUpdateRMS(gradients: variables.map(\.gradient)) : nil
        if let rms {
            adamRMSSum += rms
            adamRMSMax = rms.isNaN || adamRMSMax.isNaN ? .nan : max(adamRMSMax, rms)
            adamSteps += 1
        }
        last = BatchSignalValues(gradNorm: norm, layerGradNorms: layerSquares.map { ($0.0, $0.1.squareRoot()) },
                                 updateRatios: ratios, adamUpdateRMS: rms)
        // Only a softmax or sigmoid output is a probability that the cross-entropies clip; every
        // such output's rows count.
        for k in 0..<network.outputCount where network.outputActivation(k) != nil {
            measuresSaturation = true
            let output = network.lastOutput(k)
            let width = max(output.shape.last ?? 1, 1)
            let rows = output.count / width
            output.withPointer { p in
                for r in 0..<rows where Saturation.isSaturated(UnsafeBufferPointer(start: p + r * width, count: width)) {
                    saturated += 1
                }
            }
            samples += rows
        }
    }

    /// Sums of (after - before)^2 and before^2, in Double, in fixed pieces over the cores.
    private static func updateSquares(_ before: [Float], _ after: [Float]) -> (Double, Double) {
        before.withUnsafeBufferPointer { b in
            after.withUnsafeBufferPointer { a in
                guard let bp = b.baseAddress, let ap = a.baseAddress else { return (0, 0) }
                return fixedPieceSums(count: b.count) { range in
                    // float32 lanes of eight (the difference of two float32 weights is exact
                    // enough for a ratio), Double across blocks.
                    var d = 0.0, w = 0.0
                    var i = range.lowerBound
                    while i + 8 <= range.upperBound {
                        let x = UnsafeRawPointer(bp + i).loadUnaligned(as: SIMD8<Float>.self)
                        let e = UnsafeRawPointer(ap + i).loadUnaligned(as: SIMD8<Float>.self) - x
                        d += Double((e * e).sum()); w += Double((x * x).sum())
                        i += 8
                    }
                    while i < range.upperBound { let x = Double(bp[i]), e = Double(ap[i]) - x; d += e * e; w += x * x; i += 1 }
                    return (d, w)
                }
            }
        }
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

    /// Epoch means over the batches (`grad_norm`, `grad_norm/<layer>`, `grad_norm_first_kernel`,
    /// `grad_norm_last_kernel`, `update_ratio/<layer>`, `adam_update_rms`), `grad_norm_max` and
    /// `adam_update_rms_max` the largest, `saturated_fraction` the share of samples on the clip.
    var values: [String: Double] {
        guard batches > 0 else { return [:] }
        let n = Double(batches)
        var out = ["grad_norm": gradientNormSum / n, "grad_norm_max": gradientNormMax,
                   "grad_norm_first_kernel": firstKernelSum / n, "grad_norm_last_kernel": lastKernelSum / n]
        for (layer, sum) in layerGradientSums { out["grad_norm/" + layer] = sum / n }
        for (layer, s) in updateRatioSums where s.count > 0 { out["update_ratio/" + layer] = s.sum / Double(s.count) }
        if adamSteps > 0 {
            out["adam_update_rms"] = adamRMSSum / Double(adamSteps)
            out["adam_update_rms_max"] = adamRMSMax
        }
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
