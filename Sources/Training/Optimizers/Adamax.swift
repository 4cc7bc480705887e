import Foundation

/// Adamax: Adam with the infinity norm. Keras 2.2 keeps beta_1 and beta_2 in float32 variables
/// (so `1 - beta_1` is a float32 subtraction) and folds the bias correction into the learning rate.
public struct Adamax: UpdateRule {
    public static let className = "Adamax"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { flavor == .keras22 ? 0.002 : 0.001 }
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-7

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        beta1 = config.number("beta_1", beta1)
        beta2 = config.number("beta_2", beta2)
        epsilon = config.number("epsilon", epsilon)
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        var out: [(String, ConfigValue)] = [("beta_1", reported(beta1, flavor)), ("beta_2", reported(beta2, flavor))]
        if flavor == .keras22 { out.append(("decay", reported(decay, flavor))) }
        return out + [("epsilon", .double(epsilon))]
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "beta_1": beta1 = try number(value, key)
        case "beta_2": beta2 = try number(value, key)
        case "epsilon": epsilon = try number(value, key)
        default: return false
        }
        return true
    }

    /// tf.keras names the slots m and u (Keras 3: momentum and norm), interleaved per variable;
    /// Keras 2.2 keeps all ms, then all us.
    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] {
        flavor == .keras22 ? [["m"], ["u"]] : [["m", "u"]]
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        var m = slots[0], u = slots[1]
        slots[0] = []; slots[1] = []
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        let b1Power = kerasPow(b1, Float(step))
        if flavor == .keras22 {
            // keras/optimizers.py 2.2.4: lr_t = lr / (1 - beta_1^t); m_t = beta_1 m + (1 - beta_1) g;
            // u_t = max(beta_2 u, |g|); p - lr_t * m_t / (u_t + epsilon).
            let c1 = 1 - b1
            let lrT = lr / (1 - b1Power)
            for i in w.indices {
                m[i] = b1 * m[i] + c1 * g[i]
                u[i] = max(b2 * u[i], abs(g[i]))
                w[i] = w[i] - (lrT * m[i]) / (u[i] + eps)
            }
        } else {
            // tf_keras/src/optimizers/adamax.py, keras/src/optimizers/adamax.py:
            // m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|);
            // variable -= lr * m / ((1 - beta_1^t) * (u + epsilon)).
            let c1 = Float(1 - beta1)
            for i in w.indices {
                m[i] += (g[i] - m[i]) * c1
                u[i] = max(b2 * u[i], abs(g[i]))
                w[i] -= (lr * m[i]) / ((1 - b1Power) * (u[i] + eps))
            }
        }
        slots[0] = m; slots[1] = u
    }
}
