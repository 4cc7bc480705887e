import Foundation

/// Nadam: Adam with Nesterov momentum and a warming momentum schedule whose running product
/// (Keras 2.2's `m_schedule`, Keras 3's `_u_product`) is state. That product is a function of
/// the step count alone (each step multiplies it by that step's momentum factor), so it is
/// recomputed from `iterations` rather than saved: Keras 2.2 does not save it, and tf.keras
/// 2.11+'s layout, which Relapse writes, has no place for it. Keras 3 saves it as
/// `<opt>/variable`; reading skips it (OptimizerLayout) because the product is recomputed.
/// tf.keras 2.11+'s Nadam is refused (`Optimizer.classRefusal` says why).
public struct Nadam: UpdateRule {
    public static let className = "Nadam"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { flavor == .keras22 ? 0.002 : 0.001 }
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-7
    /// Keras 2.2 only: the momentum schedule is 0.96^(t * schedule_decay).
    public var scheduleDecay = 0.004

    /// The momentum-schedule product through `productStep` (1 before any step).
    public private(set) var product: Float = 1
    private var productStep: Int64 = 0

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        beta1 = config.number("beta_1", beta1)
        beta2 = config.number("beta_2", beta2)
        epsilon = config.number("epsilon", epsilon)
        if config.flavor == .keras22 { scheduleDecay = config.number("schedule_decay", scheduleDecay) }
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        var out: [(String, ConfigValue)] = [("beta_1", reported(beta1, flavor)), ("beta_2", reported(beta2, flavor)),
                                            ("epsilon", .double(epsilon))]
        if flavor == .keras22 { out.append(("schedule_decay", .double(scheduleDecay))) }
        return out
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "beta_1": beta1 = try number(value, key); productStep = 0
        case "beta_2": beta2 = try number(value, key)
        case "epsilon": epsilon = try number(value, key)
        case "schedule_decay" where flavor == .keras22: scheduleDecay = try number(value, key); productStep = 0
        default: return false
        }
        return true
    }

    /// Keras 2.2 keeps all ms, then all vs (keras/optimizers.py 2.2.4 `[iterations] + ms + vs`).
    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] {
        flavor == .keras22 ? [["m"], ["v"]] : [["m", "v"]]
    }

    /// The momentum factor of step `t` (float32, in each Keras's operation order).
    func momentumFactor(_ t: Int64, _ flavor: OptimizerFlavor) -> Float {
        let b1 = Float(beta1)
        if flavor == .keras22 {
            // momentum_cache_t = beta_1 * (1. - 0.5 * pow(0.96, t * schedule_decay))
            return b1 * (1 - 0.5 * kerasPow(0.96, Float(t) * Float(scheduleDecay)))
        }
        // u_t = beta_1 * (1.0 - 0.5 * pow(0.96, t))
        return b1 * (1 - 0.5 * kerasPow(0.96, Float(t)))
    }

    /// Advances the product to `step`: Keras 2.2's `m_schedule_new = m_schedule * momentum_cache_t`,
    /// Keras 3's `_backend_update_step`: `u_product * beta_1 * (1.0 - 0.5 * 0.96^t)`.
    public mutating func beginStep(_ step: Int64, flavor: OptimizerFlavor) {
        if productStep != step - 1 {
            product = 1
            productStep = 0
        }
        while productStep < step {
            productStep += 1
            if flavor == .keras22 {
                product = product * momentumFactor(productStep, flavor)
            } else {
                product = (product * Float(beta1)) * (1 - 0.5 * kerasPow(0.96, Float(productStep)))
            }
        }
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        var m = slots[0], v = slots[1]
        slots[0] = []; slots[1] = []
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        let uT = momentumFactor(step, flavor), uNext = momentumFactor(step + 1, flavor)
        let productT = product, productNext = product * uNext
        let b2Power = kerasPow(b2, Float(step))
        if flavor == .keras22 {
            // keras/optimizers.py 2.2.4 Nadam.get_updates (beta_1, beta_2 float32 variables).
            for i in w.indices {
                let gPrime = g[i] / (1 - productT)
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                let mPrime = m[i] / (1 - productNext)
                v[i] = b2 * v[i] + (1 - b2) * (g[i] * g[i])
                let vPrime = v[i] / (1 - b2Power)
                let mBar = (1 - uT) * gPrime + uNext * mPrime
                w[i] = w[i] - (lr * mBar) / (vPrime.squareRoot() + eps)
            }
        } else {
            // keras/src/optimizers/nadam.py update_step (beta_1, beta_2 cast to float32 tensors).
            for i in w.indices {
                m[i] += (g[i] - m[i]) * (1 - b1)
                v[i] += (g[i] * g[i] - v[i]) * (1 - b2)
                let mHat = (uNext * m[i]) / (1 - productNext) + ((1 - uT) * g[i]) / (1 - productT)
                let vHat = v[i] / (1 - b2Power)
                w[i] -= (mHat * lr) / (vHat.squareRoot() + eps)
            }
        }
        slots[0] = m; slots[1] = v
    }
}
