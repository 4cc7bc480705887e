import Kernels
import Network

extension Trainer {
    /// Signals read once per epoch from the weights and the optimizer state: the global and
    /// per-layer (`norm/<layer>`) weight norms, and for Adam the largest update ratio and the
    /// 1st percentile of sqrt(v_hat).
    func epochEndSignals() -> [String: Double] {
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
        }
        return out
    }
}

extension Optimizer {
    /// Adam's signals over all variables; nil for other optimizers and before the first step.
    func adamSignals() -> (maxUpdateRatio: Double, sqrtVHatP1: Double)? {
        guard let adam = rule as? Adam, let m = slots["m"], let v = slots["v"],
              let correction = AdamSignals.Correction(beta1: adam.beta1, beta2: adam.beta2,
                                                      epsilon: adam.epsilon, iterations: iterations)
        else { return nil }
        // Under amsgrad the update divides by vhat, the running maximum of v.
        let denominators = slots["vhat"].flatMap { $0.map(\.shape) == v.map(\.shape) ? $0 : nil } ?? v
        var ratio = 0.0
        for (mi, vi) in zip(m, denominators) {
            let signals = AdamSignals(m: mi.data, v: vi.data, correction: correction)
            ratio = signals.maxUpdateRatio.isNaN || ratio.isNaN ? .nan : max(ratio, signals.maxUpdateRatio)
        }
        let p1 = AdamSignals.sqrtVHatPercentile(denominators.map(\.data), percentile: 1, correction: correction)
        return (ratio, p1)
    }
}
