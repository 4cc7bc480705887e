import Foundation
import KerasFile

/// A learning-rate schedule stored in the optimizer config as `learning_rate`, evaluated at
/// `iterations` before each step. tf-keras writes `{"class_name", "config"}` (plus `module`
/// and `registered_name` since 2.13), Keras 3 the same with its own `name` default. Both compute
/// in the dtype of `initial_learning_rate` (float32 for a Python float), the step cast to it.
/// Sources: tf_keras/src/optimizers/schedules/learning_rate_schedule.py and
/// keras/src/optimizers/schedules/learning_rate_schedule.py (the same formulas).
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// initial * decay_rate^(step / decay_steps), the exponent floored when staircase.
        case exponential(initial: Float, decaySteps: Float, decayRate: Float, staircase: Bool)
        /// values[i] for boundaries[i-1] < step <= boundaries[i] (boundaries cast to the int64 step).
        case piecewiseConstant(boundaries: [Int64], values: [Float])
        /// initial / (1 + decay_rate * step / decay_steps), the quotient floored when staircase.
        case inverseTime(initial: Float, decaySteps: Float, decayRate: Float, staircase: Bool)
        /// Cosine from initial (or from warmup_target after a linear warmup) down to alpha times it.
        case cosine(initial: Float, decaySteps: Float, alpha: Double, warmupTarget: Float?, warmupSteps: Float)
    }

    public var kind: Kind
    /// The object as the file had it, written back unchanged.
    public var json: JSONValue

    public static let supported = ["ExponentialDecay", "PiecewiseConstantDecay", "InverseTimeDecay", "CosineDecay"]

    /// The float32 learning rate at `step` (= iterations).
    public func value(at step: Int64) -> Float {
        switch kind {
        case let .exponential(initial, decaySteps, decayRate, staircase):
            var p = Float(step) / decaySteps
            if staircase { p = p.rounded(.down) }
            return initial * kerasPow(decayRate, p)
        case let .piecewiseConstant(boundaries, values):
            // tf.case over (step <= b0), (step > b_last), (b_i < step <= b_i+1).
            if step <= boundaries[0] { return values[0] }
            if step > boundaries[boundaries.count - 1] { return values[values.count - 1] }
            for i in 0..<(boundaries.count - 1) where step > boundaries[i] && step <= boundaries[i + 1] {
                return values[i + 1]
            }
            return values[0]
        case let .inverseTime(initial, decaySteps, decayRate, staircase):
            var p = Float(step) / decaySteps
            if staircase { p = p.rounded(.down) }
            return initial / (1 + decayRate * p)
        case let .cosine(initial, decaySteps, alpha, warmupTarget, warmupSteps):
            let s = Float(step)
            guard let target = warmupTarget else {
                return Self.cosineDecay(min(s, decaySteps), decaySteps, initial, alpha)
            }
            let clamped = min(s, decaySteps + warmupSteps)
            if clamped < warmupSteps {
                // _warmup_function: (target - initial) * (step / warmup_steps) + initial.
                return (target - initial) * (clamped / warmupSteps) + initial
            }
            return Self.cosineDecay(clamped - warmupSteps, decaySteps, target, alpha)
        }
    }

    /// _decay_function: from * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha),
    /// `1 - alpha` in Python's double, then float32.
    private static func cosineDecay(_ step: Float, _ decaySteps: Float, _ from: Float, _ alpha: Double) -> Float {
        let fraction = step / decaySteps
        let cosine = 0.5 * (1 + Foundation.cos(Float.pi * fraction))
        let decayed = Float(1 - alpha) * cosine + Float(alpha)
        return from * decayed
    }

    /// Reads a schedule object; refusals name the key inside it.
    static func read(_ object: JSONValue, scope: String) -> Result<LearningRateSchedule, ConfigRefusals> {
        var outer = ConfigKeys(object, scope: scope + " learning_rate")
        let className = outer.take("class_name")?.stringValue ?? ""
        // module and registered_name only say where Keras finds the class.
        outer.accept("module", "registered_name")
        let config = outer.take("config") ?? .object([])
        guard supported.contains(className) else {
            return .failure(ConfigRefusals([outer.refusal("class_name",
                "is not supported (Relapse implements \(supported.joined(separator: ", ")))")]))
        }
        var keys = ConfigKeys(config, scope: scope + " learning_rate \(className)")
        // name only names the TensorFlow name scope.
        keys.accept("name")
        var refusals: [ConfigRefusal] = outer.leftovers()
        func float(_ key: String, _ fallback: Double? = nil, integerOK: Bool = true) -> Float? {
            guard let value = keys.take(key), !value.isNull else {
                if fallback == nil { refusals.append(keys.refusal(key, "is required")) }
                return fallback.map(Float.init)
            }
            if case .int = value, !integerOK {
                // tf.convert_to_tensor(int) is int32: Keras would compute the schedule in integers.
                refusals.append(keys.refusal(key, "is an integer, which makes Keras compute the schedule in integer arithmetic"))
                return nil
            }
            guard let d = value.doubleValue, d.isFinite else {
                refusals.append(keys.refusal(key, "must be a finite number"))
                return nil
            }
            return Float(d)
        }
        func positive(_ key: String, _ x: Float?) -> Float? {
            guard let x else { return nil }
            guard x > 0 else { refusals.append(keys.refusal(key, "must be positive")); return nil }
            return x
        }
        func flag(_ key: String) -> Bool {
            guard let value = keys.take(key), !value.isNull else { return false }
            guard let b = value.boolValue else { refusals.append(keys.refusal(key, "must be true or false")); return false }
            return b
        }
        var kind: Kind?
        switch className {
        case "ExponentialDecay", "InverseTimeDecay":
            let initial = float("initial_learning_rate", integerOK: false)
            let steps = positive("decay_steps", float("decay_steps"))
            let rate = float("decay_rate")
            let staircase = flag("staircase")
            if let initial, let steps, let rate {
                kind = className == "ExponentialDecay"
                    ? .exponential(initial: initial, decaySteps: steps, decayRate: rate, staircase: staircase)
                    : .inverseTime(initial: initial, decaySteps: steps, decayRate: rate, staircase: staircase)
            }
        case "PiecewiseConstantDecay":
            let boundaries = keys.take("boundaries")?.arrayValue ?? []
            let values = keys.take("values")?.arrayValue ?? []
            let bs = boundaries.compactMap { b -> Int64? in
                // Boundaries are cast to the step's int64 (tf.cast truncates toward zero).
                guard let d = b.doubleValue, d.isFinite, abs(d) < 9e18 else { return nil }
                return Int64(d)
            }
            let vs = values.compactMap { v -> Float? in
                if case .double(let d) = v, d.isFinite { return Float(d) }
                return nil
            }
            if boundaries.isEmpty || bs.count != boundaries.count || vs.count != values.count
                || values.count != boundaries.count + 1 || zip(bs, bs.dropFirst()).contains(where: { $0 >= $1 }) {
                refusals.append(keys.refusal("values",
                    "must be one more float than the increasing numeric boundaries \(JSONValue.array(boundaries).serialized())"))
            } else {
                kind = .piecewiseConstant(boundaries: bs, values: vs)
            }
        case "CosineDecay":
            let initial = float("initial_learning_rate", integerOK: false)
            let steps = positive("decay_steps", float("decay_steps"))
            let alpha = keys.take("alpha")?.doubleValue ?? 0
            var target: Float? = nil
            var warmupSteps: Float = 0
            if let t = keys.take("warmup_target"), !t.isNull {
                target = t.doubleValue.map(Float.init)
                if target == nil { refusals.append(keys.refusal("warmup_target", "must be a number")) }
                warmupSteps = float("warmup_steps", 0) ?? 0
                if !(warmupSteps > 0) { refusals.append(keys.refusal("warmup_steps", "must be positive with a warmup_target")) }
            } else {
                // warmup_steps is read only with a warmup_target.
                keys.accept("warmup_steps")
            }
            if let initial, let steps, refusals.isEmpty {
                kind = .cosine(initial: initial, decaySteps: steps, alpha: alpha, warmupTarget: target, warmupSteps: warmupSteps)
            }
        default: break
        }
        refusals += keys.leftovers()
        guard refusals.isEmpty, let kind else { return .failure(ConfigRefusals(refusals)) }
        return .success(LearningRateSchedule(kind: kind, json: object))
    }
}
