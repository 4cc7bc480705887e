/// What a layer's config says about training its weights, beyond its math: whether they train,
/// the penalties added to the loss, and the projections applied after each update.
public struct LayerTrainingSettings: Equatable, Sendable {
    /// `trainable: false`: the layer's weights never change and the optimizer keeps no slots
    /// for them (they are not among Keras's `trainable_weights`).
    public var trainable = true
    /// `kernel_regularizer` / `bias_regularizer`, by weight name ("kernel", "bias").
    public var weightRegularizers: [String: Regularizer] = [:]
    /// `activity_regularizer`: a penalty on the layer's output.
    public var activityRegularizer: Regularizer?
    /// `kernel_constraint` / `bias_constraint`, by weight name.
    public var constraints: [String: WeightConstraint] = [:]

    public init() {}
}

/// Keras's L1, L2 and L1L2 regularizers (one class in Keras 2.2, three later): the penalty
/// `l1 * sum(|x|) + l2 * sum(x^2)`. The factors are float32, as every Keras casts them
/// (`K.cast_to_floatx` in Keras 2.2's regularizers.py, `backend.cast_to_floatx` in tf_keras's,
/// `validate_float_arg` then float32 variables in Keras 3).
public struct Regularizer: Equatable, Sendable {
    public var l1: Float
    public var l2: Float

    public init(l1: Float = 0, l2: Float = 0) {
        self.l1 = l1
        self.l2 = l2
    }
}

/// Keras's weight constraints, applied to a variable after each optimizer update
/// (`keras/constraints.py` 2.2.4, `tf_keras/src/constraints.py`, `keras/src/constraints/constraints.py`).
/// `axes` are the axes the norm is taken over (Keras's `axis`, 0 by default), non-negative.
public enum WeightConstraint: Equatable, Sendable {
    case maxNorm(maxValue: Float, axes: [Int])
    case nonNeg
    case unitNorm(axes: [Int])
    case minMaxNorm(minValue: Float, maxValue: Float, rate: Float, axes: [Int])
}
