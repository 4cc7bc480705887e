import KerasFile
import Kernels

/// One trainable weight of a layer: its value and its gradient, both in Keras's layout.
/// The optimizer may update `value` in place; layers read it on every forward pass.
public final class Parameter {
    public let layerName: String
    /// Keras's weight name within the layer: "kernel" or "bias".
    public let weightName: String
    public var value: Tensor
    public var gradient: Tensor
    /// False for the weights of a `trainable: false` layer and for state (`isState`): the
    /// optimizer never sees them.
    public private(set) var trainable = true
    /// A weight the layer itself updates or only reads (BatchNormalization's moving statistics,
    /// Normalization's adapted mean): in the file and in checkpoints, never trained
    /// (Keras's non-trainable weights of a trainable layer).
    public let isState: Bool
    /// `kernel_regularizer` / `bias_regularizer`: a penalty on this weight added to the loss.
    public private(set) var regularizer: Regularizer?
    /// `kernel_constraint` / `bias_constraint`, its axes resolved against this weight's rank.
    public private(set) var constraint: WeightConstraint?

    init(layer: String, name: String, shape: [Int], isState: Bool = false) {
        self.layerName = layer
        self.weightName = name
        self.isState = isState
        self.trainable = !isState
        self.value = Tensor(zeros: shape)
        self.gradient = Tensor(zeros: shape)
    }

    /// Takes this weight's part of its layer's training settings.
    func configure(_ settings: LayerTrainingSettings) throws {
        trainable = settings.trainable && !isState
        regularizer = settings.weightRegularizers[weightName]
        constraint = try settings.constraints[weightName].map { try $0.resolved(rank: shape.count, weight: self) }
    }

    public var shape: [Int] { value.shape }
}

/// What every layer of a `Network` has. Shapes are per sample (no batch dimension); the tensors
/// passed in and out are batch first. Each layer owns its output and input-gradient buffers and
/// reuses them from one call to the next. A layer object belongs to one call site (graph node):
/// a Keras layer called twice is two objects sharing their `Parameter`s.
protocol GraphLayer: AnyObject {
    var name: String { get }
    var outputShape: [Int] { get }
    var parameters: [Parameter] { get }
    /// The last forward's output, owned by the layer.
    var output: Tensor { get }
    /// The activation applied last inside this layer (softmax/sigmoid outputs give tf.keras its logits).
    var finalActivation: ActivationFunction { get }
    /// The values before `finalActivation` (nil when it is linear or the layer has none fused;
    /// an Activation layer's logits are its input, which the network knows).
    var preActivation: Tensor? { get }
}

extension GraphLayer {
    var parameters: [Parameter] { [] }
    var finalActivation: ActivationFunction { .linear }
    var preActivation: Tensor? { nil }
}

/// A layer of one input.
protocol NetworkLayer: GraphLayer {
    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator)
    /// Adds parameter gradients; returns the input gradient (a layer-owned buffer) when asked.
    /// `skipActivation`: `gradOutput` is already the gradient w.r.t. the pre-activation values.
    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor?
}

/// A layer of several inputs (Add, Concatenate, ...).
protocol MergingLayer: GraphLayer {
    func forward(_ inputs: [Tensor])
    /// The gradient w.r.t. each input where `needInputGradients` asks for it (layer-owned buffers).
    func backward(inputs: [Tensor], gradOutput: Tensor, needInputGradients: [Bool]) -> [Tensor?]
}

extension ActivationFunction {
    /// The kernel for this activation on per-sample tensors of `shape` (softmax: last axis).
    func kernel(shape: [Int]) -> ActivationKernel {
        switch self {
        case .linear: return .linear
        case .relu: return .relu
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .softmax: return .softmax(rowLength: shape.last ?? 1)
        case .logSoftmax: return .logSoftmax(rowLength: shape.last ?? 1)
        case .elu: return .elu(alpha: 1)
        case .selu: return .selu
        case .softplus: return .softplus
        case .softsign: return .softsign
        case .exponential: return .exponential
        case .mish: return .mish
        case .relu6: return .relu6
        // tf.keras's and Keras 3's `activations.gelu` default to the exact form (only
        // `keras.ops.gelu` defaults to the tanh approximation).
        case .gelu: return .gelu(approximate: false)
        case .swish, .silu: return .swish
        case .hardSigmoid: return .hardSigmoid
        case .hardSigmoidKeras3: return .hardSigmoidRelu6
        case .hardSilu, .hardSwish: return .hardSilu
        // tf.nn.leaky_relu's and Keras 3's default slope.
        case .leakyRelu: return .leakyRelu(slope: 0.2)
        }
    }
}

/// Copies `input`'s values into `output` (resized to `shape`).
func copyValues(_ input: Tensor, into output: inout Tensor, shape: [Int]) {
    output.ensureShape(shape)
    input.withPointer { src in
        output.withMutablePointer { dst in dst.update(from: src, count: input.count) }
    }
}

/// Whether two tensors of the same shape share one storage buffer (and so hold the same values).
func sharesStorage(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && a.count > 0
        && a.data.withUnsafeBufferPointer { $0.baseAddress } == b.data.withUnsafeBufferPointer { $0.baseAddress }
}

/// `body` with the storage of every tensor in `tensors` at once (read only).
func withPointers<R>(_ tensors: [Tensor], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    func nest(_ k: Int, _ pointers: [UnsafePointer<Float>]) -> R {
        k == tensors.count ? body(pointers) : tensors[k].withPointer { nest(k + 1, pointers + [$0]) }
    }
    return nest(0, [])
}
