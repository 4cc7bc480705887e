import Foundation
import Kernels
import Network

extension Trainer {
    /// Signals read once per epoch from the weights and the optimizer state: the global and
    /// per-layer (`norm/<layer>`) weight norms; for Adam the largest update ratio, the 1st
    /// percentile of sqrt(v_hat) and the share of coordinates where sqrt(v_hat) < epsilon
    /// (`adam_eps_dominated`: there epsilon, not the gradient history, sets the step size);
    /// with a `reference` batch (one tensor per input), each ReLU layer's share of units never positive on it
    /// (`dead_fraction/<layer>`, and `dead_fraction_max`).
    func epochEndSignals(reference: [Tensor]? = nil) throws -> [String: Double] {
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
        if let reference {
            _ = try network.forward(inputs: reference, training: false)
            var worst: Double?
            for (layer, output) in network.reluOutputs {
                let share = DeadUnits.share(output)
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
        let rows = max(output.shape.first ?? 1, 1)
        let width = output.count / rows
        guard width > 0 else { return 0 }
        var alive = [Bool](repeating: false, count: width)
        output.withPointer { p in
            for r in 0..<rows {
                let row = p + r * width
                for u in 0..<width where row[u] > 0 { alive[u] = true }
            }
        }
        return Double(alive.lazy.filter { !$0 }.count) / Double(width)
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
