/// Adadelta. The three Keras differ only in where float32 rounds: Keras 2.2 and Keras 3 square
/// before scaling by (1 - rho), tf.keras multiplies left to right.
public struct Adadelta: UpdateRule {
    public static let className = "Adadelta"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { flavor == .keras22 ? 1.0 : 0.001 }
    public var rho = 0.95
    public var epsilon = 1e-7

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        rho = config.number("rho", rho)
        epsilon = config.number("epsilon", epsilon)
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        if flavor == .keras22 { return [("rho", .double(rho)), ("decay", reported(decay, flavor)), ("epsilon", .double(epsilon))] }
        return [("rho", .double(rho)), ("epsilon", .double(epsilon))]
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "rho": rho = try number(value, key)
        case "epsilon": epsilon = try number(value, key)
        default: return false
        }
        return true
    }

    /// tf.keras and Keras 3 interleave the two per variable; Keras 2.2 keeps all accumulators,
    /// then all delta accumulators.
    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] {
        flavor == .keras22 ? [["accumulated_grad"], ["accumulated_delta_var"]] : [["accumulated_grad", "accumulated_delta_var"]]
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        var a = slots[0], d = slots[1]
        slots[0] = []; slots[1] = []
        // rho is a Python float in every version; `1 - rho` is computed in double, then rounded.
        let r = Float(rho), c = Float(1 - rho), eps = Float(epsilon)
        switch flavor {
        case .keras22:
            // keras/optimizers.py 2.2.4: new_a = rho a + (1 - rho) g²;
            // update = g sqrt(d_a + eps) / sqrt(new_a + eps); p - lr update;
            // new_d_a = rho d_a + (1 - rho) update².
            for i in w.indices {
                a[i] = r * a[i] + c * (g[i] * g[i])
                let update = (g[i] * (d[i] + eps).squareRoot()) / (a[i] + eps).squareRoot()
                w[i] = w[i] - lr * update
                d[i] = r * d[i] + c * (update * update)
            }
        case .tfKeras:
            // tf_keras/src/optimizers/adadelta.py: rho * acc + (1 - rho) * grad * grad;
            // delta = -rms(acc_delta) * grad / rms(acc); acc_delta = rho acc_delta + (1 - rho) delta delta.
            for i in w.indices {
                a[i] = r * a[i] + (c * g[i]) * g[i]
                let delta = (-(d[i] + eps).squareRoot() * g[i]) / (a[i] + eps).squareRoot()
                d[i] = r * d[i] + (c * delta) * delta
                w[i] += lr * delta
            }
        case .keras3:
            // keras/src/optimizers/adadelta.py: rho * acc + (1 - rho) * square(grad);
            // delta = -(rms(acc_delta) * grad / rms(acc)); acc_delta = rho acc_delta + (1 - rho) square(delta).
            for i in w.indices {
                a[i] = r * a[i] + c * (g[i] * g[i])
                let delta = -(((d[i] + eps).squareRoot() * g[i]) / (a[i] + eps).squareRoot())
                d[i] = r * d[i] + c * (delta * delta)
                w[i] += lr * delta
            }
        }
        slots[0] = a; slots[1] = d
    }
}
