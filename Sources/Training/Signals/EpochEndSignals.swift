import Foundation
import Kernels
import Network

extension Trainer {
    /// Signals read once per epoch from the weights and the optimizer state: the global and
    /// per-layer (`norm/<layer>`) weight norms; for Adam the largest update ratio, the 1st
    /// percentile of sqrt(v_hat) and the share of coordinates where sqrt(v_hat) < epsilon
    /// (`adam_eps_dominated`: there epsilon, not the gradient history, sets the step size);
    /// with a `reference` batch (in chunks, each one tensor per input), each ReLU layer's share of
    /// units never positive on it (`dead_fraction/<layer>`, and `dead_fraction_max`). The chunks
    /// are at most a training batch each, so every layer's buffers keep the training step's shape
    /// (a larger reference batch made each of them reallocate and zero-fill twice an epoch, on one
    /// core: 5% of a ResNet-20 epoch).
    func epochEndSignals(reference: [[Tensor]]? = nil) throws -> [String: Double] {
        var out: [String: Double] = [:]
        var layerSquares: [String: Double] = [:]
        var total = 0.0
        for variable in network.variables {
            let n = variable.value.count
            let squares = variable.value.withPointer { w in
                var s = 0.0
                for i in 0..<n { s += Double(w[i]) * Double(w[i]) }
                return s
            }
            layerSquares[variable.layerName, default: 0] += squares
            total += squares
        }
        out["weight_norm"] = total.squareRoot()
        for (layer, squares) in layerSquares { out["norm/" + layer] = squares.squareRoot() }
        if let adam = optimizer.adamSignals() {
            out["adam_max_update_ratio"] = adam.maxUpdateRatio
            out["adam_sqrt_vhat_p1"] = adam.sqrtVHatP1
            out["adam_eps_dominated"] = adam.epsilonDominated
        }
        if let reference, !reference.isEmpty {
            var alive: [String: [UInt8]] = [:]
            var layers: [String] = []
            for chunk in reference {
                _ = try network.forward(inputs: chunk, training: false)
                for (layer, output) in network.reluOutputs {
                    if alive[layer] == nil { layers.append(layer) }
                    DeadUnits.markAlive(output, in: &alive[layer, default: []])
                }
            }
            var worst: Double?
            for layer in layers {
                let share = DeadUnits.share(alive: alive[layer]!)
                out["dead_fraction/" + layer] = share
                worst = max(worst ?? share, share)
            }
            if let worst { out["dead_fraction_max"] = worst }
        }
        return out
    }
}

/// A unit (one output value per sample: a neuron, or one channel at one position) is dead on a
/// batch when it is never positive for any sample of it.
public enum DeadUnits {
    public static func share(_ output: Tensor) -> Double {
        var alive: [UInt8] = []
        markAlive(output, in: &alive)
        return share(alive: alive)
    }

    /// Sets `alive[u]` to 1 for every unit positive in some sample of `output` (rows: samples),
    /// sizing an empty `alive` to the units. Flags as bytes or'ed without a branch: the loop runs
    /// in vector registers (a branch per value made this 2% of a ResNet-20 epoch's time).
    public static func markAlive(_ output: Tensor, in alive: inout [UInt8]) {
        let rows = max(output.shape.first ?? 1, 1)
        let width = output.count / rows
        if alive.isEmpty { alive = [UInt8](repeating: 0, count: width) }
        precondition(alive.count == width, "dead units: \(width) units per sample after \(alive.count)")
        output.withPointer { p in
            alive.withUnsafeMutableBufferPointer { alive in
                for r in 0..<rows {
                    let row = p + r * width
                    for u in 0..<width { alive[u] |= row[u] > 0 ? 1 : 0 }
                }
            }
        }
    }

    /// The share of units never marked alive.
    public static func share(alive: [UInt8]) -> Double {
        alive.isEmpty ? 0 : Double(alive.lazy.filter { $0 == 0 }.count) / Double(alive.count)
    }
}

extension Optimizer {
    /// Adam's (and AdamW's) hyperparameters, nil for other optimizers.
    var adamSettings: (beta1: Double, beta2: Double, epsilon: Double)? {
        if let adam = rule as? Adam { return (adam.beta1, adam.beta2, adam.epsilon) }
        if let adamW = rule as? AdamW { return (adamW.adam.beta1, adamW.adam.beta2, adamW.adam.epsilon) }
        return nil
    }

    /// The second moments the update divides by: vhat under amsgrad, else v.
    var secondMoments: [Tensor]? {
        guard let v = slots["v"] else { return nil }
        return slots["vhat"].flatMap { $0.map(\.shape) == v.map(\.shape) ? $0 : nil } ?? v
    }

    /// Adam's signals over all variables; nil for other optimizers and before the first step.
    func adamSignals() -> (maxUpdateRatio: Double, sqrtVHatP1: Double, epsilonDominated: Double)? {
        guard let settings = adamSettings, let m = slots["m"], let denominators = secondMoments,
              let correction = AdamSignals.Correction(beta1: settings.beta1, beta2: settings.beta2,
                                                      epsilon: settings.epsilon, iterations: iterations)
        else { return nil }
        var ratio = 0.0
        for (mi, vi) in zip(m, denominators) {
            let signals = AdamSignals(m: mi.data, v: vi.data, correction: correction)
            ratio = signals.maxUpdateRatio.isNaN || ratio.isNaN ? .nan : max(ratio, signals.maxUpdateRatio)
        }
        let p1 = AdamSignals.sqrtVHatPercentile(denominators.map(\.data), percentile: 1, correction: correction)
        let share = AdamSignals.epsilonDominatedShare(denominators.map(\.data), correction: correction)
        return (ratio, p1, share)
    }

    /// StableAdamW's update RMS after a step (Wortsman et al. 2023, Algorithm 2): per weight
    /// sqrt(mean(g^2 / max(v_hat, eps^2))) with v_hat the bias-corrected second moment that
    /// already includes g; the largest over the weights. Nil for other optimizers.
    func adamUpdateRMS(gradients: [Tensor]) -> Double? {
        guard let settings = adamSettings, let vs = secondMoments, vs.count == gradients.count,
              let correction = AdamSignals.Correction(beta1: settings.beta1, beta2: settings.beta2,
                                                      epsilon: settings.epsilon, iterations: iterations)
        else { return nil }
        var largest = 0.0
        for (g, v) in zip(gradients, vs) where g.count == v.count && g.count > 0 {
            let rms = AdamSignals.updateRMS(gradient: g.data, v: v.data, correction: correction)
            largest = rms.isNaN || largest.isNaN ? .nan : max(largest, rms)
        }
        return largest
    }
}
