/// Stochastic gradient descent with optional (Nesterov) momentum.
public struct SGD: UpdateRule {
    public static let className = "SGD"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { 0.01 }
    public var momentum = 0.0
    public var nesterov = false

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        // tf_keras/src/optimizers/sgd.py and keras/src/optimizers/sgd.py refuse a momentum
        // outside [0, 1]; Keras 2.2 takes any value.
        let range = config.flavor == .keras22 ? { (_: Double) in true } : { (0...1).contains($0) }
        momentum = config.number("momentum", momentum, valid: range, reason: "must be between 0 and 1")
        nesterov = config.flag("nesterov", nesterov)
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        var out: [(String, ConfigValue)] = [("momentum", reported(momentum, flavor))]
        if flavor == .keras22 { out.append(("decay", reported(decay, flavor))) }
        out.append(("nesterov", .bool(nesterov)))
        return out
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "momentum":
            let m = try number(value, key)
            guard flavor == .keras22 || (0...1).contains(m) else { throw OptimizerError.invalidValue(key: key, value) }
            momentum = m
        case "nesterov": nesterov = try flag(value, key)
        default: return false
        }
        return true
    }

    /// Keras 2.2 and tf.keras always keep a momentum slot; Keras 3 only when momentum != 0.
    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] {
        flavor == .keras3 && momentum == 0 ? [] : [["m"]]
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        let mu = Float(momentum)
        if slots.isEmpty {
            for i in w.indices { w[i] -= g[i] * lr }
            return
        }
        var m = slots[0]
        slots[0] = []
        for i in w.indices {
            switch flavor {
            case .keras22:
                // v = momentum * m - lr * g; nesterov: p + momentum * v - lr * g.
                m[i] = mu * m[i] - lr * g[i]
                w[i] = nesterov ? w[i] + mu * m[i] - lr * g[i] : w[i] + m[i]
            case .tfKeras:
                m[i] = -g[i] * lr + m[i] * mu
                w[i] += nesterov ? -g[i] * lr + m[i] * mu : m[i]
            case .keras3:
                m[i] = m[i] * mu - g[i] * lr
                w[i] += nesterov ? m[i] * mu - g[i] * lr : m[i]
            }
        }
        slots[0] = m
    }
}
