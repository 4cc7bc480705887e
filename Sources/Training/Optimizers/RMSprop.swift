/// RMSprop. Keras 2.2's is a different algorithm: epsilon outside the square root, no momentum,
/// no centering, and only the accumulators saved.
public struct RMSprop: UpdateRule {
    public static let className = "RMSprop"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { 0.001 }
    public var rho = 0.9
    public var momentum = 0.0
    public var epsilon = 1e-7
    public var centered = false

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        rho = config.number("rho", rho)
        epsilon = config.number("epsilon", epsilon)
        if config.flavor == .keras22 {
            // keras/optimizers.py 2.2.4's RMSprop has neither argument.
            return
        }
        momentum = config.number("momentum", momentum)
        centered = config.flag("centered", centered)
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        if flavor == .keras22 {
            return [("rho", reported(rho, flavor)), ("decay", reported(decay, flavor)), ("epsilon", .double(epsilon))]
        }
        return [("rho", .double(rho)), ("momentum", .double(momentum)), ("epsilon", .double(epsilon)), ("centered", .bool(centered))]
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "rho": rho = try number(value, key)
        case "epsilon": epsilon = try number(value, key)
        case "momentum", "centered" where flavor == .keras22:
            throw OptimizerError.unsupportedSetting("\(key): Keras 2.2's RMSprop has no momentum or centered")
        case "momentum": momentum = try number(value, key)
        case "centered": centered = try flag(value, key)
        default: return false
        }
        return true
    }

    /// All velocities, then all momentums, then all average gradients.
    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] {
        var groups = [["velocity"]]
        if momentum > 0 { groups.append(["momentum"]) }
        if centered { groups.append(["average_gradient"]) }
        return groups
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        let r = Float(rho), eps = Float(epsilon), mu = Float(momentum)
        var velocity = slots[0]
        slots[0] = []
        if flavor == .keras22 {
            let c = 1 - r
            for i in w.indices {
                velocity[i] = r * velocity[i] + c * (g[i] * g[i])
                w[i] = w[i] - lr * g[i] / (velocity[i].squareRoot() + eps)
            }
            slots[0] = velocity
            return
        }
        let c = Float(1 - rho)
        let momentumIndex = momentum > 0 ? 1 : -1
        let averageIndex = centered ? (momentum > 0 ? 2 : 1) : -1
        var mom = momentumIndex >= 0 ? slots[momentumIndex] : []
        var average = averageIndex >= 0 ? slots[averageIndex] : []
        for i in w.indices {
            velocity[i] = r * velocity[i] + c * (g[i] * g[i])
            var denominator: Float
            if centered {
                average[i] = r * average[i] + c * g[i]
                denominator = velocity[i] - average[i] * average[i] + eps
            } else {
                denominator = velocity[i] + eps
            }
            // tf.keras multiplies by rsqrt (TensorFlow's is approximate: expect last-ulp noise);
            // Keras 3 divides by sqrt.
            let increment = flavor == .keras3
                ? (lr * g[i]) / denominator.squareRoot()
                : (lr * g[i]) * (1 / denominator.squareRoot())
            if momentumIndex >= 0 {
                mom[i] = mu * mom[i] + increment
                w[i] -= mom[i]
            } else {
                w[i] -= increment
            }
        }
        slots[0] = velocity
        if momentumIndex >= 0 { slots[momentumIndex] = mom }
        if averageIndex >= 0 { slots[averageIndex] = average }
    }
}
