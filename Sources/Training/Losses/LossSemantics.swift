import Kernels

/// Which Keras's loss math a file trains with. The versions disagree, and that disagreement is
/// something users come here to study, so each file keeps its own.
///
/// Keras 3 on TensorFlow is a mix: its `softmax`/`sigmoid` activations cache their logits and the
/// TensorFlow backend's crossentropies use them (like tf.keras), but its fallback binary
/// crossentropy has no `+ epsilon` inside the logs (like Keras 3 on JAX). Hence a fourth case.
public enum LossSemantics: String, CaseIterable, Sendable {
    /// Keras 2.2 (TensorFlow 1 backend): clip, back to a logit, sigmoid cross-entropy.
    case keras22 = "keras2.2"
    /// tf.keras 2.x / tf-keras: cached pre-activation logits after softmax or sigmoid.
    case tfKeras = "tf.keras"
    /// Keras 3 on JAX, PyTorch or NumPy: plain clipped formulas.
    case keras3 = "keras3"
    /// Keras 3 on TensorFlow: logits shortcut as tf.keras, otherwise Keras 3's formulas.
    case keras3TensorFlow = "keras3-tensorflow"

    /// True when the loss sees the cached logits rather than the activation's output.
    var usesCachedLogits: Bool { self == .tfKeras || self == .keras3TensorFlow }
}

/// The activation that produced the model output; only softmax and sigmoid change the loss math.
public enum OutputActivation: String, Sendable {
    case linear, softmax, sigmoid, relu, tanh, other

    /// Keras activation names map here; anything unknown is `.other`.
    public init(kerasName: String) {
        self = OutputActivation(rawValue: kerasName) ?? .other
    }

    var cachesLogits: Bool { self == .softmax || self == .sigmoid }
}

/// Gradient of the batch-mean loss, and what it is with respect to: the network either backprops
/// through its final activation (`.output`) or starts below it (`.logits`).
public enum LossGradient: Equatable, Sendable {
    case output(Tensor)
    case logits(Tensor)
}

public struct LossEvaluation: Equatable, Sendable {
    /// One loss per sample (the output's shape without its last axis).
    public var perSample: Tensor
    /// The batch's loss as Keras's `fit` reports and minimises it: the loss's reduction of
    /// `perSample` (the mean for `sum_over_batch_size`, the sum for `sum`) times the loss weight.
    public var mean: Float
    /// `mean` before the loss weight: what Keras's history records per output of a model with
    /// several (`<name>_loss`, the unweighted value in `LossesContainer.__call__` of
    /// tf_keras/src/engine/compile_utils.py and `CompileLoss.call` of Keras 3's).
    public var unweighted: Float
    public var gradient: LossGradient
}

/// Whether the semantics give the same math for a loss after a given output activation.
public enum LossAgreement: Sendable {
    /// Same formula everywhere.
    case identical
    /// Same function, but clipping and epsilons differ near saturated outputs.
    case differsNearSaturation
    /// Different functions: the same model trains a different loss in different Keras versions.
    case differs
    /// Same formula, different labels: Keras 2.2's hinge takes 0/1 labels as they are, tf.keras
    /// and Keras 3 map them to -1/1 when every label in the batch is 0 or 1.
    case differsInLabels
}
