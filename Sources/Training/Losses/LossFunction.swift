import Kernels

/// A Keras loss function by name. Each case's math lives in its own file; `Loss` adds the
/// options (from_logits, label_smoothing, delta, reduction, loss weight) and evaluates.
///
/// The raw value is the name written back into a checkpoint's `training_config`: one that
/// tf-keras 2.x and Keras 3 both resolve (Keras 3 knows `log_cosh` and `kl_divergence`, not
/// `logcosh` or `kullback_leibler_divergence`).
public enum LossFunction: String, CaseIterable, Codable, Sendable {
    case binaryCrossentropy = "binary_crossentropy"
    case categoricalCrossentropy = "categorical_crossentropy"
    case sparseCategoricalCrossentropy = "sparse_categorical_crossentropy"
    case meanSquaredError = "mean_squared_error"
    case meanAbsoluteError = "mean_absolute_error"
    case meanAbsolutePercentageError = "mean_absolute_percentage_error"
    case meanSquaredLogarithmicError = "mean_squared_logarithmic_error"
    case huber = "huber"
    case hinge = "hinge"
    case squaredHinge = "squared_hinge"
    case categoricalHinge = "categorical_hinge"
    case klDivergence = "kl_divergence"
    case poisson = "poisson"
    case logcosh = "log_cosh"

    /// The names Keras resolves for this function, compared without case and underscores:
    /// function names, aliases and class names of `losses.get` in Keras 2.2.4
    /// (`keras/losses.py`: mse, mae, mape, msle, kld, logcosh, kullback_leibler_divergence),
    /// tf-keras 2.x (`tf_keras/src/losses.py`: also bce, log_cosh, huber_loss, the classes) and
    /// Keras 3 (`keras/src/losses/__init__.py` ALL_OBJECTS_DICT). One spelling table for all of
    /// them: a file holds a name its own Keras accepted, and on the command line any Keras's
    /// spelling means the same function.
    private var spellings: [String] {
        switch self {
        case .binaryCrossentropy: return ["binarycrossentropy", "bce"]
        case .categoricalCrossentropy: return ["categoricalcrossentropy"]
        case .sparseCategoricalCrossentropy: return ["sparsecategoricalcrossentropy"]
        case .meanSquaredError: return ["meansquarederror", "mse"]
        case .meanAbsoluteError: return ["meanabsoluteerror", "mae"]
        case .meanAbsolutePercentageError: return ["meanabsolutepercentageerror", "mape"]
        case .meanSquaredLogarithmicError: return ["meansquaredlogarithmicerror", "msle"]
        case .huber: return ["huber", "huberloss"]
        case .hinge: return ["hinge"]
        case .squaredHinge: return ["squaredhinge"]
        case .categoricalHinge: return ["categoricalhinge"]
        case .klDivergence: return ["kldivergence", "kld", "kullbackleiblerdivergence"]
        case .poisson: return ["poisson"]
        case .logcosh: return ["logcosh"]
        }
    }

    /// Any Keras spelling of the function or its class, in any case: `bce`, `BinaryCrossentropy`,
    /// `binary_crossentropy`, `MSE`, `log_cosh`, `LogCosh`, `KLD`, ...
    public init?(kerasName: String) {
        let key = kerasName.lowercased().filter { $0 != "_" }
        guard let match = LossFunction.allCases.first(where: { $0.spellings.contains(key) }) else { return nil }
        self = match
    }

    /// The Keras class that wraps this function (`keras.losses.BinaryCrossentropy`, ...).
    public var kerasClassName: String {
        switch self {
        case .binaryCrossentropy: return "BinaryCrossentropy"
        case .categoricalCrossentropy: return "CategoricalCrossentropy"
        case .sparseCategoricalCrossentropy: return "SparseCategoricalCrossentropy"
        case .meanSquaredError: return "MeanSquaredError"
        case .meanAbsoluteError: return "MeanAbsoluteError"
        case .meanAbsolutePercentageError: return "MeanAbsolutePercentageError"
        case .meanSquaredLogarithmicError: return "MeanSquaredLogarithmicError"
        case .huber: return "Huber"
        case .hinge: return "Hinge"
        case .squaredHinge: return "SquaredHinge"
        case .categoricalHinge: return "CategoricalHinge"
        case .klDivergence: return "KLDivergence"
        case .poisson: return "Poisson"
        case .logcosh: return "LogCosh"
        }
    }

    /// The functions Relapse implements, for messages.
    public static var supportedNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// True for the crossentropies, whose math depends on the semantics and on cached logits.
    var isCrossentropy: Bool {
        self == .binaryCrossentropy || self == .categoricalCrossentropy || self == .sparseCategoricalCrossentropy
    }

    /// How far the semantics disagree for this loss after `activation` (for `inspect`'s warning).
    public func agreement(after activation: OutputActivation) -> LossAgreement {
        switch (self, activation) {
        // tf.keras: sigmoid cross-entropy on the pre-softmax logits; the others: BCE on the softmax.
        case (.binaryCrossentropy, .softmax): return .differs
        case (.binaryCrossentropy, _): return .differsNearSaturation
        // tf.keras: softmax cross-entropy on the pre-sigmoid logits; the others: normalised sigmoids.
        case (.categoricalCrossentropy, .sigmoid), (.sparseCategoricalCrossentropy, .sigmoid): return .differs
        case (.categoricalCrossentropy, .softmax), (.sparseCategoricalCrossentropy, .softmax): return .differsNearSaturation
        // Keras 2.2 also clips and normalises differently from Keras 3 on JAX for sparse labels.
        case (.sparseCategoricalCrossentropy, _): return .differsNearSaturation
        // Keras 2.2 takes 0/1 labels as they are; tf.keras and Keras 3 map them to -1/1.
        case (.hinge, _), (.squaredHinge, _): return .differsInLabels
        default: return .identical
        }
    }
}
