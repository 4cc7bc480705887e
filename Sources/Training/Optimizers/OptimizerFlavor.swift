/// Which Keras's optimizer an optimizer reproduces: its formula's float32 operation order, its
/// config keys, and the layout of its saved state. (Keras 3's optimizers are backend-agnostic,
/// so there is no TensorFlow variant here, unlike `LossSemantics`.)
public enum OptimizerFlavor: String, CaseIterable, Sendable {
    /// Keras 2.2's `keras.optimizers`: float32 hyperparameter variables, `lr`, `decay`.
    case keras22 = "keras2.2"
    /// tf.keras 2.11+ (`tf_keras.optimizers`, not `.legacy`).
    case tfKeras = "tf.keras"
    /// Keras 3.
    case keras3 = "keras3"
}

/// A scalar from an optimizer's Keras config (the `config` object inside `optimizer_config`).
public enum ConfigValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
}

public enum OptimizerError: Error, Equatable, CustomStringConvertible, Sendable {
    case unknownOptimizer(String)
    case unsupportedSetting(String)
    case invalidValue(key: String, ConfigValue)
    case stateMismatch(String)

    public var description: String {
        switch self {
        case .unknownOptimizer(let name): return "unknown optimizer '\(name)' (Relapse knows \(Optimizer.supportedClassNames.joined(separator: ", ")))"
        case .unsupportedSetting(let what): return "unsupported optimizer setting: \(what)"
        case .invalidValue(let key, let value): return "invalid value \(value) for optimizer setting '\(key)'"
        case .stateMismatch(let what): return "optimizer state does not fit: \(what)"
        }
    }
}
