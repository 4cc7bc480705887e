import KerasFile
import Kernels
import Network

/// A Keras optimizer: an update rule, the settings every Keras optimizer shares, and the state
/// (iterations and per-variable slots) that the Keras file saves. Value type: copy to branch.
public struct Optimizer: Sendable {
    public var rule: any UpdateRule
    public let flavor: OptimizerFlavor
    /// The constant learning rate (ignored while `schedule` is set).
    public var learningRate: Double
    /// A learning-rate schedule from the config, evaluated at `iterations` before each step.
    public var schedule: LearningRateSchedule?
    /// Keras 2.2 only: `lr / (1 + decay * iterations)`.
    public var decay = 0.0
    /// tf.keras / Keras 3: decoupled decay, `w -= w * weight_decay * lr` before the update.
    public var weightDecay: Double?
    public var clipnorm: Double?
    public var clipvalue: Double?
    public var globalClipnorm: Double?
    /// The optimizer's `name` (prefix of its saved variables' names).
    public var name: String
    /// Config entries that cannot change the math (jit_compile, ema_momentum while use_ema is
    /// false, ...), kept as the file had them to be written back; see `readCommon`.
    public var inert: [String: JSONValue] = [:]

    /// Completed update steps (`iterations` in every Keras).
    public var iterations: Int64 = 0
    /// Shapes of the model variables, in the order `step` receives them; nil before `build`.
    public private(set) var variableShapes: [[Int]]?
    /// Slots by tf.keras kind name ("m", "v", "vhat", "velocity", ...), one per model variable.
    public internal(set) var slots: [String: [Tensor]] = [:]

    public init(_ rule: any UpdateRule, flavor: OptimizerFlavor = .tfKeras, learningRate: Double? = nil) {
        self.rule = rule
        self.flavor = flavor
        self.learningRate = learningRate ?? type(of: rule).defaultLearningRate(flavor)
        self.name = Self.defaultName(type(of: rule).className, flavor)
    }

    static func defaultName(_ className: String, _ flavor: OptimizerFlavor) -> String {
        switch flavor {
        // keras/src/optimizers/base_optimizer.py: auto_name(class name), snake case.
        case .keras3: return ["RMSprop": "rmsprop", "AdamW": "adam_w"][className] ?? className.lowercased()
        case .keras22, .tfKeras: return className
        }
    }

    /// Creates zero slots for model variables of these shapes; keeps iterations.
    public mutating func build(shapes: [[Int]]) {
        variableShapes = shapes
        slots = [:]
        ensureSlots()
    }

    /// Adds zero slots a hyperparameter change made necessary (amsgrad, momentum, centered);
    /// existing slots of the right shape are kept.
    mutating func ensureSlots() {
        guard let shapes = variableShapes else { return }
        for kind in rule.slotKinds(flavor) {
            let wanted = shapes.map { rule.slotShape(kind, variable: $0, flavor) }
            if slots[kind]?.map(\.shape) != wanted {
                let start = rule.initialSlotValue(kind, flavor)
                slots[kind] = wanted.map { shape in
                    start == 0 ? Tensor(zeros: shape)
                        : Tensor(shape: shape, data: Array(repeating: start, count: shape.reduce(1, *)))
                }
            }
        }
    }

    /// One Keras `apply_gradients`: clip, weight decay, the rule's update, iterations + 1.
    public mutating func step(weights: inout [Tensor], gradients: [Tensor]) throws {
        guard weights.count == gradients.count else {
            throw OptimizerError.stateMismatch("\(weights.count) weights but \(gradients.count) gradients")
        }
        for (w, g) in zip(weights, gradients) where w.shape != g.shape {
            throw OptimizerError.stateMismatch("weight \(w.shape) with gradient \(g.shape)")
        }
        if variableShapes == nil { build(shapes: weights.map(\.shape)) }
        guard variableShapes == weights.map(\.shape) else {
            throw OptimizerError.stateMismatch("built for \(variableShapes!), stepped with \(weights.map(\.shape))")
        }
        ensureSlots()
        let grads = clippedGradients(gradients)
        let lr = currentLearningRate
        applyWeightDecay(&weights, lr: lr)
        rule.beginStep(iterations + 1, flavor: flavor)
        let kinds = rule.slotKinds(flavor)
        for index in weights.indices {
            var variableSlots = kinds.map { slots[$0]![index].data }
            for kind in kinds { slots[kind]![index].data = [] }
            rule.update(weight: &weights[index].data, gradient: grads[index].data, slots: &variableSlots,
                        lr: lr, step: iterations + 1, flavor: flavor)
            for (k, kind) in kinds.enumerated() { slots[kind]![index].data = variableSlots[k] }
        }
        iterations += 1
    }

    /// `step(weights:gradients:)` on the parameters' own storage: each value is moved out of its
    /// Parameter for the update and back, so the optimizer writes in place instead of copying
    /// every weight (8 MB for the seed model) on each step.
    public mutating func step(parameters: [Parameter]) throws {
        var weights = parameters.map { p in
            defer { p.value = Tensor(shape: [0], data: []) }
            return p.value
        }
        defer { for (p, w) in zip(parameters, weights) { p.value = w } }
        try step(weights: &weights, gradients: parameters.map(\.gradient))
    }

    /// The float32 learning rate this step uses: the schedule at `iterations` (tf-keras's
    /// `_compute_current_learning_rate`, Keras 3's `_get_current_learning_rate`), or Keras 2.2's
    /// `lr * (1. / (1. + decay * iterations))` in float32 (keras/optimizers.py 2.2.4).
    var currentLearningRate: Float {
        if let schedule { return schedule.value(at: iterations) }
        let lr = Float(learningRate)
        guard flavor == .keras22, decay > 0 else { return lr }
        return lr * (1 / (1 + Float(decay) * Float(iterations)))
    }

    /// tf_keras/src/optimizers/optimizer.py and keras/src/optimizers/base_optimizer.py
    /// `_apply_weight_decay`: `variable - variable * wd * lr` in float32, before the update.
    private func applyWeightDecay(_ weights: inout [Tensor], lr: Float) {
        guard let wd = weightDecay, flavor != .keras22 else { return }
        let decay = Float(wd)
        for index in weights.indices {
            weights[index].data = weights[index].data.map { $0 - $0 * decay * lr }
        }
    }

    /// Sets a hyperparameter by its Keras config key; the state is kept.
    public mutating func set(_ key: String, _ value: ConfigValue) throws {
        if type(of: rule) == Nadam.self, ["beta_1", "schedule_decay"].contains(key), iterations > 0 {
            // Nadam's momentum-schedule product is recomputed from iterations on resume (Nadam.swift),
            // which holds only while its factors never change.
            throw OptimizerError.unsupportedSetting("changing Nadam's \(key) after training has started")
        }
        if try rule.set(key, value, flavor: flavor) {
            ensureSlots()
            return
        }
        try setCommon(key, value)
    }
}
