/// Stochastic gradient descent with optional (Nesterov) momentum.
public struct SGD: UpdateRule {
    public static let className = "SGD"
    public static let defaultLearningRate = 0.01
    public var momentum = 0.0
    public var nesterov = false

    public init() {}

    public init(config: inout [String: ConfigValue], flavor: OptimizerFlavor) throws {
        momentum = try config.takeDouble("momentum", momentum)
        nesterov = try config.takeBool("nesterov", nesterov)
        guard (0...1).contains(momentum) else { throw OptimizerError.invalidValue(key: "momentum", .double(momentum)) }
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        var out: [(String, ConfigValue)] = [("momentum", reported(momentum, flavor))]
        if flavor == .keras22 { out.append(("decay", reported(decay, flavor))) }
        out.append(("nesterov", .bool(nesterov)))
        return out
    }

    public mutating func set(_ key: String, _ value: ConfigValue) throws -> Bool {
        switch key {
        case "momentum": momentum = try number(value, key)
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
