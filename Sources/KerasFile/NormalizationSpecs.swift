/// BatchNormalization as its config says, resolved for the Keras that wrote it
/// (`tf_keras/src/layers/normalization/batch_normalization.py`,
/// `keras/src/layers/normalization/batch_normalization.py`, Keras 2.2.4's `layers/normalization.py`).
public struct BatchNormalizationSpec: Equatable, Sendable {
    /// The normalised (channel) axis as written: the batch is axis 0, negative counts from the end.
    public var axis: Int
    public var momentum: Double
    public var epsilon: Double
    /// `center`: a `beta` weight; `scale`: a `gamma` weight.
    public var center: Bool
    public var scale: Bool
    /// tf.keras's `fused` (nil: the fused kernel wherever it applies). tf.keras's
    /// `synchronized: true` turns it off.
    public var fused: Bool?
    public var generation: KerasGeneration

    public init(axis: Int = -1, momentum: Double = 0.99, epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true,
                fused: Bool? = nil, generation: KerasGeneration = .tfKeras) {
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.fused = fused
        self.generation = generation
    }

    /// Keras's weight order: gamma, beta (where present), then the moving statistics.
    public var weightNames: [String] {
        (scale ? ["gamma"] : []) + (center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
    }
}

/// The activation layers with options (`tf_keras/src/layers/activation/`, `keras/src/layers/activations/`).
public enum ActivationLayerSpec: Equatable, Sendable {
    /// ReLU(max_value, negative_slope, threshold).
    case relu(negativeSlope: Double, maxValue: Double?, threshold: Double)
    /// LeakyReLU (`alpha` in Keras 2 and tf.keras, `negative_slope` in Keras 3).
    case leakyRelu(slope: Double)
    case elu(alpha: Double)
    /// Softmax over one axis (batch is 0; negative counts from the end).
    case softmax(axis: Int)
}

/// Keras's Normalization layer: (x - mean) / max(sqrt(variance), 1e-7), or its inverse.
public struct NormalizationSpec: Equatable, Sendable {
    /// The kept axes as written (batch is 0; negative counts from the end); empty: one mean.
    public var axes: [Int]
    public var invert: Bool
    /// Mean and variance given in the config (then the layer has no weights), else adapted
    /// values stored as the weights `mean`, `variance`, `count`.
    public var mean: [Double]?
    public var variance: [Double]?

    public init(axes: [Int], invert: Bool, mean: [Double]? = nil, variance: [Double]? = nil) {
        self.axes = axes
        self.invert = invert
        self.mean = mean
        self.variance = variance
    }

    public var weightNames: [String] { mean == nil ? ["mean", "variance", "count"] : [] }
}
