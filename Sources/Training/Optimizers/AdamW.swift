/// AdamW: Adam whose weight decay is on by default (0.004). tf_keras/src/optimizers/adamw.py has
/// the same update_step as adam.py; keras/src/optimizers/adamw.py subclasses Adam. The decay
/// itself, `w - w * weight_decay * lr` before the update, is the shared `_apply_weight_decay`
/// (Optimizer.applyWeightDecay). Keras 2.2 has no AdamW (refused in `classRefusal`).
public struct AdamW: UpdateRule {
    public static let className = "AdamW"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { 0.001 }
    public var adam = Adam()

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        adam.beta1 = config.number("beta_1", adam.beta1)
        adam.beta2 = config.number("beta_2", adam.beta2)
        adam.epsilon = config.number("epsilon", adam.epsilon)
        adam.amsgrad = config.flag("amsgrad", adam.amsgrad)
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        // get_config: beta_1, beta_2, epsilon, amsgrad (weight_decay sits among the shared keys).
        [("beta_1", .double(adam.beta1)), ("beta_2", .double(adam.beta2)), ("epsilon", .double(adam.epsilon)),
         ("amsgrad", .bool(adam.amsgrad))]
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        key == "adaptive_epsilon" ? false : try adam.set(key, value, flavor: flavor)
    }

    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] { adam.slotGroups(flavor) }

    public func update(weight: inout [Float], gradient: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        adam.update(weight: &weight, gradient: gradient, slots: &slots, lr: lr, step: step, flavor: flavor)
    }
}
