/// The part of an optimizer that differs between Adam, SGD, RMSprop, ...: its hyperparameters,
/// the slots it keeps per model variable, and the per-element update.
public protocol UpdateRule: Sendable {
    /// The Keras class name ("Adam", "SGD", "RMSprop", ...).
    static var className: String { get }
    /// Keras's default `learning_rate` (`lr` in Keras 2.2, whose defaults differ).
    static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double

    /// Slot kinds under tf.keras 2.11+'s names, grouped as the flavor creates them: the kinds of
    /// one group are interleaved per model variable, the groups follow one another.
    func slotGroups(_ flavor: OptimizerFlavor) -> [[String]]
    /// A slot's shape for a model variable of `shape` (the variable's own, unless a placeholder).
    func slotShape(_ kind: String, variable shape: [Int], _ flavor: OptimizerFlavor) -> [Int]
    /// The value a new slot starts at (Adagrad's accumulators start at initial_accumulator_value).
    func initialSlotValue(_ kind: String, _ flavor: OptimizerFlavor) -> Float
    /// Reads this rule's hyperparameters from a Keras config, taking the keys it knows and
    /// refusing values it cannot honour in `reader.flavor`.
    init(reading reader: inout OptimizerConfigReader)
    /// The config entries this rule writes back, in Keras's `get_config` order.
    /// Keras 2.2 puts `decay` among the rule's own keys, so the rule places it.
    func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)]
    /// Sets one hyperparameter by its Keras key; false when the key is not this rule's.
    mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool

    /// Called once per `apply_gradients`, before the variables are updated, with `step` =
    /// iterations + 1 (Nadam advances its momentum-schedule product here).
    mutating func beginStep(_ step: Int64, flavor: OptimizerFlavor)
    /// Updates one model variable in place. `slots` holds this variable's slots in
    /// `slotGroups` order (flattened); `step` is `iterations + 1`; `lr` is the learning rate as float32.
    func update(weight: inout [Float], gradient: [Float], slots: inout [[Float]],
                lr: Float, step: Int64, flavor: OptimizerFlavor)
}

extension UpdateRule {
    public func slotShape(_ kind: String, variable shape: [Int], _ flavor: OptimizerFlavor) -> [Int] { shape }
    public func initialSlotValue(_ kind: String, _ flavor: OptimizerFlavor) -> Float { 0 }
    public mutating func beginStep(_ step: Int64, flavor: OptimizerFlavor) {}
    func slotKinds(_ flavor: OptimizerFlavor) -> [String] { slotGroups(flavor).flatMap { $0 } }
}

/// Keras 2.2 stores beta, rho, momentum and decay in float32 variables and reports them back
/// through `float(K.get_value(...))`; later Keras keeps the Python float.
func reported(_ x: Double, _ flavor: OptimizerFlavor) -> ConfigValue {
    .double(flavor == .keras22 ? Double(Float(x)) : x)
}

func number(_ value: ConfigValue, _ key: String) throws -> Double {
    guard let d = value.doubleValue, d.isFinite else { throw OptimizerError.invalidValue(key: key, value) }
    return d
}

func flag(_ value: ConfigValue, _ key: String) throws -> Bool {
    guard case .bool(let b) = value else { throw OptimizerError.invalidValue(key: key, value) }
    return b
}
