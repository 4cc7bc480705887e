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

/// One output's loss gradient for `backward(outputs:)`, and what it is taken with respect to.
public struct OutputGradient: Sendable {
    public var gradient: Tensor
    public var target: GradientTarget

    public init(_ gradient: Tensor, withRespectTo target: GradientTarget = .output) {
        self.gradient = gradient
        self.target = target
    }
}

/// What the loss gradient given to `backward` is taken with respect to.
public enum GradientTarget: Sendable {
    /// The network's output.
    case output
    /// `outputLogits`: the values before the final softmax/sigmoid, whose backward is skipped.
    case logits
}

/// A Keras model built from its `model_config`: its inputs, its outputs, any directed acyclic
/// graph of layers between them (Sequential, or a functional model wired by its inbound nodes):
/// merges, fan-out (gradients summed), shared layers (one set of weights, several calls).
///
/// Parameters are listed in the config's layer order, kernel before bias, in Keras's layouts.
/// `backward` overwrites `Parameter.gradient` (or adds to it with `accumulate: true`).
/// Buffers are owned by the layers and reused while the batch size stays the same.
public final class Network {
    public let definition: ModelDefinition
    /// Every layer of the config, in its order, with shapes and weight shapes.
    public let layerInfos: [LayerInfo]
    /// Per-sample shapes of the model's inputs and outputs, in the config's flat order
    /// (`definition.inputNames` / `outputNames` name them).
    public let inputShapes: [[Int]]
    public let outputShapes: [[Int]]
    /// The per-sample shape of the model's only input (of its first, where it has several).
    public var inputShape: [Int] { inputShapes[0] }
    /// The per-sample shape of the model's only output (of its first, where it has several).
    public var outputShape: [Int] { outputShapes[0] }
    public var inputCount: Int { inputShapes.count }
    public var outputCount: Int { outputShapes.count }
    /// Every weight in Keras's order (layer order of the config, kernel then bias).
    public let variables: [Parameter]
    /// The weights the optimizer updates: `variables` without those of `trainable: false`
    /// layers (Keras's `trainable_weights`, the order its optimizer state follows).
    public var trainableVariables: [Parameter] { variables.filter(\.trainable) }
    /// `activity_regularizer`s by graph node (each call of a layer adds its penalty).
    let activityRegularizers: [Int: Regularizer]
    /// tf.keras and Keras 3 divide an activity penalty by the batch size; Keras 2.2 does not
    /// (`_handle_activity_regularization` in tf_keras/src/engine/base_layer.py, `Layer.__call__`
    /// in keras/src/layers/layer.py, `Layer.__call__` in Keras 2.2.4's engine/base_layer.py).
    public var activityPenaltyPerSample = true
    /// Draws dropout masks; save `state` in a checkpoint to resume the same stream.
    public var dropoutGenerator: SeededGenerator

    let graph: Graph
    /// Each layer's first call, config order (the layer table's objects).
    var layerList: [GraphLayer] { graph.firstNode.map { graph.nodes[$0!].layer.base } }
    var forwardDone = false
    /// Gradients w.r.t. each node's output during a backward (empty between backwards).
    var nodeGradients: [Tensor?] = []
    /// Gradients w.r.t. an output node's logits (its final softmax/sigmoid skipped), likewise.
    var logitGradients: [Tensor?] = []
    /// Per node, the buffer that sums the gradients of its consumers when it has several.
    var gradientSums: [Tensor] = []
    /// Per node, gradients that arrived after the first, kept unsummed for a fused Add + ReLU
    /// (`Graph.sumsAtFusedAdd`); empty between backwards.
    var laterGradients: [[Tensor]] = []

    /// Builds the network with zero weights (use `loadWeights` or `initializeWeights`).
    /// `producer` and `backend`: the Keras that saved the file, whose layers may compute what
    /// only the built shapes reveal (`Keras3BiasAxis`); unknown for a config on its own.
    /// `fuseLayers`: run a plain ReLU inside the BatchNormalization or Add before it (the same
    /// values bit for bit, less memory traffic: `fuseReLUs`); false only to check that.
    public init(definition: ModelDefinition, dropoutSeed: UInt64 = 0,
                producer: Producer = .unknown(version: nil), backend: String? = nil, fuseLayers: Bool = true) throws {
        self.definition = definition
        self.dropoutGenerator = SeededGenerator(seed: dropoutSeed)
        let specs = definition.layers
        guard !specs.isEmpty else { throw NetworkError(layer: nil, "the model has no layers") }
        // A setting Relapse does not compute stops the model here, before it can train or predict.
        try ConfigRefusals(definition.refusals).check()
        var graph = try Graph(definition, store: ParameterStore())
        // So does one that the layers' output shapes make Keras compute differently.
        try ConfigRefusals(graph.keras3BiasAxisRefusals(definition, producer: producer, backend: backend)).check()

        // Weights in config order, each layer's from its first call (later calls share them).
        var variables: [Parameter] = []
        for k in specs.indices {
            guard let n = graph.firstNode[k] else { continue }
            for parameter in graph.nodes[n].layer.base.parameters {
                try parameter.configure(specs[k].training)
                variables.append(parameter)
            }
        }
        self.variables = variables
        var activity: [Int: Regularizer] = [:]
        for (n, node) in graph.nodes.enumerated() {
            if let k = node.spec, let r = specs[k].training.activityRegularizer { activity[n] = r }
        }
        if fuseLayers { graph.fuseReLUs(activityRegularized: Set(activity.keys)) }
        graph.planGradients()
        self.graph = graph
        self.activityRegularizers = activity
        self.inputShapes = graph.inputs.map { graph.nodes[$0].layer.base.outputShape }
        self.outputShapes = graph.outputs.map { graph.nodes[$0].layer.base.outputShape }
        self.layerInfos = specs.indices.map { k in
            let node = graph.nodes[graph.firstNode[k]!]
            let layer = node.layer.base
            return LayerInfo(name: specs[k].name, className: specs[k].className, outputShape: layer.outputShape,
                             weights: layer.parameters.map { ($0.weightName, $0.shape) },
                             inbound: node.inputs.map { graph.nodes[$0].layer.base.name })
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

    /// The settings of a file that only its built graph's shapes reveal (`Keras3BiasAxis`), all
    /// of them, for `inspect` and `convert`; empty for a weights-only file. Needs a definition
    /// without refusals (a refused layer is not built). `convertedFrom`: the Keras of the model
    /// `convert` made this one from.
    public static func shapeRefusals(of model: KerasModel, convertedFrom source: Producer? = nil) throws -> [ConfigRefusal] {
        guard let definition = model.definition else { return [] }
        return try Graph(definition, store: ParameterStore())
            .keras3BiasAxisRefusals(definition, producer: model.producer, backend: model.backend, convertedFrom: source)
    }
}
