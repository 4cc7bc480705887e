/// Regularizer and constraint objects as the three Keras generations serialise them:
/// `{"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}` (Keras 2.2), the same with
/// `module` and `registered_name` and classes L1/L2/L1L2 (tf.keras 2.x, Keras 3).
enum WeightSettingsParser {
    struct Reason: Error {
        var text: String
    }

    static func regularizer(_ value: JSONValue) -> Result<Regularizer, Reason> {
        guard let (className, config) = object(value, module: "keras.regularizers") else {
            return .failure(Reason(text: "is not a regularizer Relapse reads (L1, L2, L1L2)"))
        }
        var keys = ConfigKeys(config, scope: "")
        func factor(_ key: String) -> Float? {
            guard let item = keys.take(key), !item.isNull else { return 0 }
            guard let d = item.doubleValue, d.isFinite, d >= 0 else { return nil }
            return Float(d)
        }
        let regularizer: Regularizer?
        switch className {
        case "L1L2", "l1_l2": regularizer = factor("l1").flatMap { l1 in factor("l2").map { Regularizer(l1: l1, l2: $0) } }
        case "L1", "l1": regularizer = factor("l1").map { Regularizer(l1: $0) }
        case "L2", "l2": regularizer = factor("l2").map { Regularizer(l2: $0) }
        default:
            return .failure(Reason(text: "is not supported (\(className); Relapse computes L1, L2, L1L2)"))
        }
        guard let regularizer else { return .failure(Reason(text: "has a factor that is not a non-negative number")) }
        if let extra = keys.leftovers().first { return .failure(Reason(text: "is not supported (\(className) with \(extra.key))")) }
        return .success(regularizer)
    }

    static func constraint(_ value: JSONValue) -> Result<WeightConstraint, Reason> {
        guard let (className, config) = object(value, module: "keras.constraints") else {
            return .failure(Reason(text: "is not a constraint Relapse reads (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)"))
        }
        var keys = ConfigKeys(config, scope: "")
        var bad = false
        func number(_ key: String, _ fallback: Float) -> Float {
            guard let item = keys.take(key), !item.isNull else { return fallback }
            guard let d = item.doubleValue, d.isFinite else { bad = true; return fallback }
            return Float(d)
        }
        func axes() -> [Int] {
            guard let item = keys.take("axis"), !item.isNull else { return [0] }
            if let n = item.intValue { return [n] }
            guard let list = item.arrayValue, !list.isEmpty, list.allSatisfy({ $0.intValue != nil }) else { bad = true; return [0] }
            return list.map { $0.intValue! }
        }
        let constraint: WeightConstraint
        // Keras 2.2 also registers the lower-case aliases max_norm, non_neg, unit_norm, min_max_norm.
        switch className {
        case "MaxNorm", "max_norm": constraint = .maxNorm(maxValue: number("max_value", 2), axes: axes())
        case "NonNeg", "non_neg": constraint = .nonNeg
        case "UnitNorm", "unit_norm": constraint = .unitNorm(axes: axes())
        case "MinMaxNorm", "min_max_norm":
            constraint = .minMaxNorm(minValue: number("min_value", 0), maxValue: number("max_value", 1),
                                     rate: number("rate", 1), axes: axes())
        default:
            return .failure(Reason(text: "is not supported (\(className); Relapse computes MaxNorm, NonNeg, UnitNorm, MinMaxNorm)"))
        }
        if bad { return .failure(Reason(text: "has a value that is not a number or an axis list")) }
        if let extra = keys.leftovers().first { return .failure(Reason(text: "is not supported (\(className) with \(extra.key))")) }
        return .success(constraint)
    }

    /// The class name and config of a serialised Keras object from `module`; nil for a custom or
    /// unreadable one (a `registered_name` other than null or the class name means user code).
    private static func object(_ value: JSONValue, module: String) -> (String, JSONValue)? {
        guard let className = value["class_name"]?.stringValue else { return nil }
        var keys = ConfigKeys(value, scope: "")
        keys.accept("class_name", "config")
        if let m = keys.take("module"), !m.isNull, m.stringValue != module { return nil }
        if let r = keys.take("registered_name"), !r.isNull, r.stringValue != className { return nil }
        guard keys.leftovers().isEmpty else { return nil }
        return (className, value["config"] ?? .object([]))
    }
}
