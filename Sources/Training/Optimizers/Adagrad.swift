/// Adagrad. tf.keras and Keras 3 start the accumulators at initial_accumulator_value and put
/// epsilon inside the square root; Keras 2.2 starts them at zero and adds epsilon outside.
public struct Adagrad: UpdateRule {
    public static let className = "Adagrad"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { flavor == .keras22 ? 0.01 : 0.001 }
    public var initialAccumulatorValue = 0.1
    public var epsilon = 1e-7

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        epsilon = config.number("epsilon", epsilon)
        if config.flavor != .keras22 {
            initialAccumulatorValue = config.number("initial_accumulator_value", initialAccumulatorValue,
                                                    valid: { $0 >= 0 }, reason: "must not be negative")
        }
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        if flavor == .keras22 { return [("decay", reported(decay, flavor)), ("epsilon", .double(epsilon))] }
        return [("initial_accumulator_value", .double(initialAccumulatorValue)), ("epsilon", .double(epsilon))]
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "epsilon": epsilon = try number(value, key)
        case "initial_accumulator_value" where flavor != .keras22:
            initialAccumulatorValue = try number(value, key)
        default: return false
        }
        return true
    }

    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] { [["accumulator"]] }

    public func initialSlotValue(_ kind: String, _ flavor: OptimizerFlavor) -> Float {
        flavor == .keras22 ? 0 : Float(initialAccumulatorValue)
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        var a = slots[0]
        slots[0] = []
        let eps = Float(epsilon)
        switch flavor {
        case .keras22:
            // keras/optimizers.py 2.2.4: new_a = a + g²; p - lr * g / (sqrt(new_a) + epsilon).
            for i in w.indices {
                a[i] = a[i] + g[i] * g[i]
                w[i] = w[i] - (lr * g[i]) / (a[i].squareRoot() + eps)
            }
        case .tfKeras, .keras3:
            // tf_keras/src/optimizers/adagrad.py, keras/src/optimizers/adagrad.py:
            // accumulator += g²; variable -= lr * g / sqrt(accumulator + epsilon).
            for i in w.indices {
                a[i] += g[i] * g[i]
                w[i] -= (lr * g[i]) / (a[i] + eps).squareRoot()
            }
        }
        slots[0] = a
    }
}
