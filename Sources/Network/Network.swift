import KerasFile
import Kernels

/// One row of a model's layer table, inferred from the config alone.
public struct LayerInfo: Sendable, Equatable {
    public var name: String
    public var className: String
    /// Output shape per sample (no batch dimension).
    public var outputShape: [Int]
    /// Keras's weight names and their shapes, in Keras's order.
    public var weights: [(name: String, shape: [Int])]
    public var parameterCount: Int { weights.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    /// The layers feeding this one.
    public var inbound: [String]

    public static func == (a: LayerInfo, b: LayerInfo) -> Bool {
        a.name == b.name && a.className == b.className && a.outputShape == b.outputShape
            && a.inbound == b.inbound && a.weights.map(\.name) == b.weights.map(\.name)
            && a.weights.map(\.shape) == b.weights.map(\.shape)
    }
}

/// What the loss gradient given to `backward` is taken with respect to.
public enum GradientTarget: Sendable {
    /// The network's output.
    case output
    /// `outputLogits`: the values before the final softmax/sigmoid, whose backward is skipped.
    case logits
}

/// A Keras model built from its `model_config`: single input, single output, a chain of
/// single-input layers (Sequential, or a functional graph wired by `LayerSpec.inbound`).
///
/// Parameters are listed in the config's layer order, kernel before bias, in Keras's layouts.
/// `backward` overwrites `Parameter.gradient` (or adds to it with `accumulate: true`).
/// Buffers are owned by the layers and reused while the batch size stays the same.
public final class Network {
    public let definition: ModelDefinition
    /// Every layer of the config, in its order, with shapes and weight shapes.
    public let layerInfos: [LayerInfo]
    /// Per-sample input and output shapes.
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// Every weight in Keras's order (layer order of the config, kernel then bias).
    public let variables: [Parameter]
    /// The weights the optimizer updates: `variables` without those of `trainable: false`
    /// layers (Keras's `trainable_weights`, the order its optimizer state follows).
    public var trainableVariables: [Parameter] { variables.filter(\.trainable) }
    /// `activity_regularizer`s by layer index (config order).
    let activityRegularizers: [Int: Regularizer]
    /// tf.keras and Keras 3 divide an activity penalty by the batch size; Keras 2.2 does not
    /// (`_handle_activity_regularization` in tf_keras/src/engine/base_layer.py, `Layer.__call__`
    /// in keras/src/layers/layer.py, `Layer.__call__` in Keras 2.2.4's engine/base_layer.py).
    public var activityPenaltyPerSample = true
    /// Draws dropout masks; save `state` in a checkpoint to resume the same stream.
    public var dropoutGenerator: SeededGenerator

    let layerList: [NetworkLayer]                // all layers, config order
    let chain: [Int]                             // indices from the input layer to the output layer
    var lastInputStorage = Tensor(zeros: [0])
    var forwardDone = false

    /// Builds the network with zero weights (use `loadWeights` or `initializeWeights`).
    public init(definition: ModelDefinition, dropoutSeed: UInt64 = 0) throws {
        self.definition = definition
        self.dropoutGenerator = SeededGenerator(seed: dropoutSeed)
        let specs = definition.layers
        guard !specs.isEmpty else { throw NetworkError(layer: nil, "the model has no layers") }
        // A setting Relapse does not compute stops the model here, before it can train or predict.
        try ConfigRefusals(definition.refusals).check()
        var seen = Set<String>()
        for s in specs where !seen.insert(s.name).inserted {
            throw NetworkError(layer: s.name, "two layers share this name")
        }
        let index = Dictionary(uniqueKeysWithValues: specs.enumerated().map { ($1.name, $0) })

        // Each layer's producer (nil for the input layer).
        var producer = [Int?](repeating: nil, count: specs.count)
        var inputIndex: Int
        var outputIndex: Int
        if definition.isSequential {
            for i in 1..<max(specs.count, 1) { producer[i] = i - 1 }
            inputIndex = 0
            outputIndex = specs.count - 1
        } else {
            guard definition.inputs.count == 1 else {
                throw NetworkError(layer: nil, "the model has \(definition.inputs.count) inputs; only single-input models are supported")
            }
            guard definition.outputs.count == 1 else {
                throw NetworkError(layer: nil, "the model has \(definition.outputs.count) outputs; only single-output models are supported")
            }
            guard let i = index[definition.inputs[0].layer] else {
                throw NetworkError(layer: definition.inputs[0].layer, "the model's input names a layer that is not in the config")
            }
            guard let o = index[definition.outputs[0].layer] else {
                throw NetworkError(layer: definition.outputs[0].layer, "the model's output names a layer that is not in the config")
            }
            inputIndex = i
            outputIndex = o
            for (k, s) in specs.enumerated() {
                if case .input = s.kind { continue }
                guard s.inbound.count == 1 else {
                    throw NetworkError(layer: s.name, s.inbound.isEmpty ? "the layer has no inbound connection"
                        : "the layer takes \(s.inbound.count) inputs; only single-input layers are supported")
                }
                let ref = s.inbound[0]
                guard ref.nodeIndex == 0, ref.tensorIndex == 0 else {
                    throw NetworkError(layer: s.name, "shared layers (node index \(ref.nodeIndex), tensor index \(ref.tensorIndex)) are not supported")
                }
                guard let p = index[ref.layer] else {
                    throw NetworkError(layer: s.name, "inbound layer '\(ref.layer)' is not in the config")
                }
                producer[k] = p
            }
        }

        // The network's input shape: the input layer's, or (Keras 2 Sequential without an
        // InputLayer) the first layer's batch_input_shape.
        let first = specs[inputIndex]
        let netInputShape: [Int]
        if case .input(let batchShape) = first.kind {
            netInputShape = try InputLayerNode(name: first.name, batchShape: batchShape).outputShape
        } else if definition.isSequential {
            guard let bs = (first.config["batch_input_shape"] ?? first.config["batch_shape"])?.arrayValue else {
                throw NetworkError(layer: first.name, "the first layer of a Sequential model has no batch_input_shape")
            }
            netInputShape = try InputLayerNode(name: first.name, batchShape: bs.map { $0.intValue }).outputShape
        } else {
            throw NetworkError(layer: first.name, "the model's input is not an InputLayer")
        }
        for (k, s) in specs.enumerated() where k != inputIndex {
            if case .input = s.kind {
                throw NetworkError(layer: s.name, definition.isSequential
                    ? "an InputLayer may only come first in a Sequential model"
                    : "the model has more than one InputLayer; only single-input models are supported")
            }
        }

        // Shape inference, each layer after its producer (memoised, cycles rejected).
        var built = [NetworkLayer?](repeating: nil, count: specs.count)
        var visiting = Set<Int>()
        func build(_ k: Int) throws -> NetworkLayer {
            if let l = built[k] { return l }
            guard visiting.insert(k).inserted else {
                throw NetworkError(layer: specs[k].name, "the graph has a cycle through this layer")
            }
            let inShape = try producer[k].map { try build($0).outputShape } ?? netInputShape
            let layer = try Network.makeLayer(specs[k], inputShape: inShape)
            built[k] = layer
            visiting.remove(k)
            return layer
        }
        for k in specs.indices { _ = try build(k) }
        let layers = built.map { $0! }
        self.layerList = layers

        // The chain from the input to the output.
        var chain = [outputIndex]
        while let p = producer[chain.last!] {
            guard chain.count <= specs.count else { break }
            chain.append(p)
        }
        chain.reverse()
        guard chain.first == inputIndex else {
            throw NetworkError(layer: specs[outputIndex].name, "the output does not depend on the model's input layer '\(specs[inputIndex].name)'")
        }
        self.chain = chain
        self.inputShape = netInputShape
        self.outputShape = layers[outputIndex].outputShape
        self.variables = layers.flatMap { $0.parameters }
        for (k, layer) in layers.enumerated() {
            for parameter in layer.parameters {
                try parameter.configure(specs[k].training)
            }
        }
        self.activityRegularizers = Dictionary(uniqueKeysWithValues: specs.indices.compactMap { k in
            specs[k].training.activityRegularizer.map { (k, $0) }
        })
        self.layerInfos = specs.indices.map { k in
            let l = layers[k]
            return LayerInfo(name: specs[k].name, className: specs[k].className, outputShape: l.outputShape,
                             weights: l.parameters.map { ($0.weightName, $0.shape) },
                             inbound: producer[k].map { [specs[$0].name] } ?? [])
        }
    }

    /// Builds and loads Keras weights (`weights[layer name]` in Keras's order, kernel then bias).
    public convenience init(definition: ModelDefinition, weights: [String: [Tensor]], dropoutSeed: UInt64 = 0) throws {
        try self.init(definition: definition, dropoutSeed: dropoutSeed)
        try loadWeights(weights)
    }

    /// Builds with fresh weights from each layer's configured initializers.
    public convenience init(definition: ModelDefinition, initializerSeed: UInt64, dropoutSeed: UInt64 = 0) throws {
        try self.init(definition: definition, dropoutSeed: dropoutSeed)
        try initializeWeights(seed: initializerSeed)
    }

    /// The layer table for `inspect`, without building buffers for weights' values.
    public static func layerTable(for definition: ModelDefinition) throws -> [LayerInfo] {
        try Network(definition: definition).layerInfos
    }

    // MARK: Layers from specs

    static func makeLayer(_ spec: LayerSpec, inputShape shape: [Int]) throws -> NetworkLayer {
        switch spec.kind {
        case .input(let batchShape): return try InputLayerNode(name: spec.name, batchShape: batchShape)
        case .activation(let f): return ActivationLayer(name: spec.name, function: f, inputShape: shape)
        case .conv2D(let c): return try Conv2DLayer(name: spec.name, spec: c, inputShape: shape)
        case .maxPooling2D(let p): return try MaxPooling2DLayer(name: spec.name, spec: p, inputShape: shape)
        case .reshape(let t): return try ReshapeLayer(name: spec.name, targetShape: t, inputShape: shape)
        case .flatten(let f): return FlattenLayer(name: spec.name, dataFormat: f, inputShape: shape)
        case .dense(let d): return try DenseLayer(name: spec.name, spec: d, inputShape: shape)
        case .dropout(let rate, _): return try DropoutLayer(name: spec.name, rate: rate, config: spec.config, inputShape: shape)
        case .unsupported: throw NetworkError(layer: spec.name, "\(spec.className) is not a layer Relapse computes")
        }
    }
}
