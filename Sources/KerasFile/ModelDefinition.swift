/// A Keras model's architecture as parsed from `model_config`: one `LayerSpec` per layer in the
/// config's order, the graph's wiring, and each layer's original JSON so nothing is lost on the
/// way back out.
public struct ModelDefinition: Sendable {
    /// "Functional", "Model" (Keras 2.2) or "Sequential", as the file said.
    public var className: String
    public var name: String
    public var layers: [LayerSpec]
    /// The model's inputs and outputs as (layer name, node index, tensor index), in Keras's flat
    /// order (a dict's entries by sorted key, as `tf.nest.flatten` and Keras 3's `tree.flatten`).
    public var inputs: [TensorRef]
    public var outputs: [TensorRef]
    /// How the config groups them: one tensor, a list, or a dict keyed by name.
    public var inputGrouping: TensorGrouping = .list
    public var outputGrouping: TensorGrouping = .list
    /// The complete `model_config` JSON this definition came from.
    public var config: JSONValue
    /// Refused keys of the model's own config (not of its layers).
    public var modelRefusals: [ConfigRefusal] = []
    /// Nested models (a model used as a layer), inlined into `layers`: the file's weight group
    /// of each, by the nested model's name, and the layers whose weights it holds, in order.
    public var weightGroups: [String: [String]] = [:]
    /// A Sequential that held nested models: its layers are wired by `inbound` like a
    /// functional model's, not by their order.
    public var wiredByInbound = false
    /// Keras's `model.layers`, nested models kept as models: what the new saving library walks
    /// (`SavedLayer`). Set by the parser; empty for a definition built by hand.
    public var savedLayers: [SavedLayer] = []

    public init(className: String, name: String, layers: [LayerSpec], inputs: [TensorRef],
                outputs: [TensorRef], config: JSONValue) {
        self.className = className
        self.name = name
        self.layers = layers
        self.inputs = inputs
        self.outputs = outputs
        self.config = config
    }

    public var isSequential: Bool { className == "Sequential" }

    public func layer(named name: String) -> LayerSpec? { layers.first { $0.name == name } }

    /// Every setting of the model that stops training or prediction, in config order.
    public var refusals: [ConfigRefusal] { modelRefusals + layers.flatMap(\.refusals) }
}

/// One entry of Keras's `model.layers`, as `keras/src/saving/saving_lib.py` (`_save_state`,
/// `_save_container_state`) and tf-keras 2.13+'s `tf_keras/src/saving/saving_lib.py` walk it
/// into a weights file: a layer, or a model used as a layer, whose own `model.layers` are
/// walked in turn under its path. A Sequential's InputLayer is not among its `layers`
/// (`Sequential.layers`); a functional model's is. Keras 3 operations written in a functional
/// config (`module: keras.src.ops...`, e.g. `x + 3.0`) are not layers (`Functional.layers`
/// keeps only `Layer` instances) and are not listed.
public indirect enum SavedLayer: Equatable, Sendable {
    case layer(name: String, className: String)
    case model(name: String, className: String, layers: [SavedLayer])

    public var name: String {
        switch self {
        case .layer(let name, _), .model(let name, _, _): return name
        }
    }

    /// The class whose snake_case name addresses the entry: a config's "Model" (Keras 2.2's
    /// name for it) is instantiated as Keras's `Functional`.
    public var savedClassName: String {
        switch self {
        case .layer(_, let className): return className
        case .model(_, let className, _): return className == "Model" ? "Functional" : className
        }
    }
}

/// How a model's `input_layers` or `output_layers` group their tensors: Keras 3 writes one
/// tensor as `["name", 0, 0]`, tf.keras and Keras 2 a list even of one; both may write a dict
/// (`Model({"img": a, "vec": b}, ...)`), whose keys name the entries in `fit`, `predict` and
/// `compile`'s loss.
public enum TensorGrouping: Equatable, Sendable {
    case single
    case list
    /// The keys in flat order (sorted), one per tensor.
    case dict(keys: [String])
}

/// One tensor produced by a layer: Keras's (layer name, node index, tensor index).
public struct TensorRef: Equatable, Hashable, Sendable {
    public var layer: String
    public var nodeIndex: Int
    public var tensorIndex: Int

    public init(layer: String, nodeIndex: Int = 0, tensorIndex: Int = 0) {
        self.layer = layer
        self.nodeIndex = nodeIndex
        self.tensorIndex = tensorIndex
    }
}

public enum DataFormat: String, Equatable, Sendable {
    case channelsFirst = "channels_first"
    case channelsLast = "channels_last"
}

public enum Padding: String, Equatable, Sendable {
    case valid, same
}

/// Keras's activation names that Relapse computes; anything else is refused at parse time.
/// swish/silu and hard_swish/hard_silu are one function under two names (each as Keras wrote it).
public enum ActivationFunction: String, Equatable, Sendable, CaseIterable {
    case linear, relu, sigmoid, softmax, tanh
    case elu, selu, softplus, softsign, exponential, mish, relu6, gelu, swish, silu
    /// Keras 2.2 and tf.keras: clip(0.2 x + 0.5, 0, 1).
    case hardSigmoid = "hard_sigmoid"
    /// Keras 3's hard_sigmoid: relu6(x + 3) / 6 (what "hard_sigmoid" means in a Keras 3 file).
    case hardSigmoidKeras3 = "hard_sigmoid (Keras 3)"
    case hardSilu = "hard_silu", hardSwish = "hard_swish"
    case leakyRelu = "leaky_relu", logSoftmax = "log_softmax"
}

public struct Conv2DSpec: Equatable, Sendable {
    public var filters: Int
    public var kernelSize: (Int, Int)
    public var strides: (Int, Int)
    public var padding: Padding
    public var dataFormat: DataFormat
    public var dilationRate: (Int, Int)
    public var activation: ActivationFunction
    public var useBias: Bool
    /// Grouped convolution: input and output channels split into `groups` independent parts.
    public var groups: Int

    public init(filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, dataFormat: DataFormat = .channelsLast,
                dilationRate: (Int, Int) = (1, 1), activation: ActivationFunction = .linear,
                useBias: Bool = true, groups: Int = 1) {
        self.groups = groups
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.dataFormat = dataFormat
        self.dilationRate = dilationRate
        self.activation = activation
        self.useBias = useBias
    }

    public static func == (a: Conv2DSpec, b: Conv2DSpec) -> Bool {
        a.filters == b.filters && a.kernelSize == b.kernelSize && a.strides == b.strides
            && a.padding == b.padding && a.dataFormat == b.dataFormat
            && a.dilationRate == b.dilationRate && a.activation == b.activation
            && a.useBias == b.useBias && a.groups == b.groups
    }
}

public struct Pooling2DSpec: Equatable, Sendable {
    public var poolSize: (Int, Int)
    public var strides: (Int, Int)
    public var padding: Padding
    public var dataFormat: DataFormat

    public init(poolSize: (Int, Int), strides: (Int, Int), padding: Padding, dataFormat: DataFormat) {
        self.poolSize = poolSize
        self.strides = strides
        self.padding = padding
        self.dataFormat = dataFormat
    }

    public static func == (a: Pooling2DSpec, b: Pooling2DSpec) -> Bool {
        a.poolSize == b.poolSize && a.strides == b.strides && a.padding == b.padding
            && a.dataFormat == b.dataFormat
    }
}

public struct DenseSpec: Equatable, Sendable {
    public var units: Int
    public var activation: ActivationFunction
    public var useBias: Bool

    public init(units: Int, activation: ActivationFunction = .linear, useBias: Bool = true) {
        self.units = units
        self.activation = activation
        self.useBias = useBias
    }
}

/// What a layer computes, as far as Relapse interprets it.
public enum LayerKind: Equatable, Sendable {
    /// `batchShape` includes the batch dimension (nil where unknown), as in Keras's config.
    case input(batchShape: [Int?])
    case activation(ActivationFunction)
    case conv2D(Conv2DSpec)
    case maxPooling2D(Pooling2DSpec)
    /// Target shape without the batch dimension; -1 may stand for one inferred dimension.
    case reshape(targetShape: [Int])
    case flatten(DataFormat)
    case dense(DenseSpec)
    case dropout(rate: Double, seed: Int?)
    /// Element-wise merges of inputs of one shape (Add, Subtract, Multiply, Average, Maximum, Minimum).
    case merge(MergeOperation)
    /// Concatenate along `axis`, counted as Keras does (the batch is axis 0, -1 the last).
    case concatenate(axis: Int)
    /// Keras 3's operation on a tensor and a number (`x + 3.0`, `x * (1 / 6)`), written with the
    /// merge's class name; `tensorFirst`: the tensor is the left operand.
    case scalar(MergeOperation, constant: Double, tensorFirst: Bool)
    case batchNormalization(BatchNormalizationSpec)
    /// ReLU, LeakyReLU, ELU, Softmax layers.
    case activationLayer(ActivationLayerSpec)
    /// PReLU: a trainable `alpha` per element, shared along `sharedAxes` (batch is axis 0).
    case prelu(sharedAxes: [Int])
    case rescaling(scale: Double, offset: Double)
    case normalization(NormalizationSpec)
    /// Other convolutions, pooling, padding, resizing, Permute, SpatialDropout2D (SpatialLayers.swift).
    case spatial(SpatialLayer)
    /// A class Relapse does not compute (its refusal says which); never built into a network.
    case unsupported
}

public struct LayerSpec: Sendable {
    public var name: String
    /// Keras's class name as written ("Conv2D", "InputLayer", ...).
    public var className: String
    public var kind: LayerKind
    /// The tensors each call of this layer consumes, one list per call (Keras's inbound nodes;
    /// a shared layer has several, an input layer none).
    public var inboundNodes: [[TensorRef]]
    /// The training mode each call was given explicitly (tf.keras's `training=True` for Monte
    /// Carlo dropout), nil where the call follows the model's mode.
    public var callTraining: [Bool?] = []
    /// The tensors the first call consumes (empty for an input layer).
    public var inbound: [TensorRef] {
        get { inboundNodes.first ?? [] }
        set { inboundNodes = newValue.isEmpty && inboundNodes.count <= 1 ? [] : [newValue] + inboundNodes.dropFirst() }
    }
    /// The layer's `config` object as read, kept whole for writing back.
    public var config: JSONValue
    /// trainable, regularizers, constraints.
    public var training: LayerTrainingSettings
    /// Settings of this layer that Relapse does not compute and will not ignore; a network is
    /// built only from layers without any.
    public var refusals: [ConfigRefusal]

    public init(name: String, className: String, kind: LayerKind, inbound: [TensorRef],
                config: JSONValue, training: LayerTrainingSettings = LayerTrainingSettings(),
                refusals: [ConfigRefusal] = []) {
        self.name = name
        self.className = className
        self.kind = kind
        self.inboundNodes = inbound.isEmpty ? [] : [inbound]
        self.config = config
        self.training = training
        self.refusals = refusals
    }

    /// Keras's own weight names for this layer, in Keras's order (kernel before bias).
    public var weightNames: [String] {
        switch kind {
        case .conv2D(let c): return c.useBias ? ["kernel", "bias"] : ["kernel"]
        case .dense(let d): return d.useBias ? ["kernel", "bias"] : ["kernel"]
        case .batchNormalization(let b): return b.weightNames
        case .prelu: return ["alpha"]
        case .normalization(let n): return n.weightNames
        case .spatial(let s): return s.weightNames
        default: return []
        }
    }

    /// The weights of `weightNames` that are state, not trained (Keras's `non_trainable_weights`
    /// of a trainable layer): the optimizer never sees them and keeps no slots for them.
    public var nonTrainableWeightNames: Set<String> {
        switch kind {
        case .batchNormalization: return ["moving_mean", "moving_variance"]
        case .normalization(let n): return Set(n.weightNames)
        default: return []
        }
    }
}

/// Keras's element-wise merge layers (`tf_keras/src/layers/merging/`, `keras/src/layers/merging/`).
public enum MergeOperation: String, CaseIterable, Equatable, Sendable {
    case add = "Add", subtract = "Subtract", multiply = "Multiply", average = "Average"
    case maximum = "Maximum", minimum = "Minimum"
}
