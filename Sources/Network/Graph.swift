import Budget
import KerasFile
import Kernels

/// The layer object of one call site, by how many inputs it takes.
enum NodeLayer {
    case input(InputLayerNode)
    case single(NetworkLayer)
    case merge(MergingLayer)

    var base: GraphLayer {
        switch self {
        case .input(let l): return l
        case .single(let l): return l
        case .merge(let l): return l
        }
    }
}

/// One call of a Keras layer (an inbound node): the layer object for this call and the nodes
/// whose outputs it reads.
struct GraphNode {
    /// The layer's index in `definition.layers`; nil for the input a Keras 2 Sequential
    /// without an InputLayer implies.
    let spec: Int?
    let layer: NodeLayer
    let inputs: [Int]
    /// The mode this call runs in whatever the model's (an explicit `training` argument).
    var training: Bool? = nil
}

/// A model's layers as a graph of calls, built once: every node after the nodes it reads, the
/// nodes the outputs depend on in that order, and which input gradients a backward needs.
/// Built without recursion, so a model of any depth cannot overflow the stack.
struct Graph {
    var nodes: [GraphNode] = []
    /// The model's input nodes and output nodes, in the config's flat order.
    var inputs: [Int] = []
    var outputs: [Int] = []
    /// For each node that is a model input, its position in `inputs`.
    var inputSlot: [Int?] = []
    /// The nodes the outputs depend on, each after its inputs: what forward runs.
    var order: [Int] = []
    /// For each node and each of its inputs: whether the backward needs the gradient w.r.t. that
    /// input (some trainable weight lies upstream of it).
    var needsInputGradient: [[Bool]] = []
    /// Each layer's first call (its node), by index in `definition.layers`.
    var firstNode: [Int?] = []
    /// Per node: a fused ReLU whose Add sums the gradients that meet at its output in its masked
    /// pass (set by `fuseReLUs`).
    var sumsAtFusedAdd: [Bool] = []

    init(_ definition: ModelDefinition, store: ParameterStore) throws {
        let specs = definition.layers
        var index: [String: Int] = [:]
        for (k, s) in specs.enumerated() {
            guard index.updateValue(k, forKey: s.name) == nil else { throw NetworkError(layer: s.name, "two layers share this name") }
        }

        // Calls (node keys) per layer and what each reads, as (layer, call) pairs.
        struct Key: Hashable { var spec: Int; var call: Int }
        var keys: [Key] = []
        var reads: [Key: [Key]] = [:]
        var implicitInput: [Int?]? = nil
        if definition.isSequential && !definition.wiredByInbound {
            if let first = specs.first, !first.isInput {
                // Keras 2 Sequential without an InputLayer: its first layer carries the batch shape.
                guard let shape = try ModelConfigParser.batchShape(in: first.config) else {
                    throw NetworkError(layer: first.name, "the first layer of a Sequential model has no batch_input_shape")
                }
                implicitInput = shape
            }
            for k in specs.indices {
                let key = Key(spec: k, call: 0)
                keys.append(key)
                reads[key] = k == 0 ? [] : [Key(spec: k - 1, call: 0)]
                if k > 0, specs[k].isInput { throw NetworkError(layer: specs[k].name, "an InputLayer may only come first in a Sequential model") }
            }
        } else {
            for (k, s) in specs.enumerated() {
                if s.isInput {
                    keys.append(Key(spec: k, call: 0))
                    reads[Key(spec: k, call: 0)] = []
                    continue
                }
                guard !s.inboundNodes.isEmpty else { throw NetworkError(layer: s.name, "the layer has no inbound connection") }
                for (c, refs) in s.inboundNodes.enumerated() {
                    let key = Key(spec: k, call: c)
                    keys.append(key)
                    reads[key] = try refs.map { ref in
                        guard let p = index[ref.layer] else { throw NetworkError(layer: s.name, "inbound layer '\(ref.layer)' is not in the config") }
                        guard ref.tensorIndex == 0 else {
                            throw NetworkError(layer: s.name, "reads output \(ref.tensorIndex) of '\(ref.layer)'; layers with several outputs are not computed")
                        }
                        let calls = specs[p].isInput ? 1 : specs[p].inboundNodes.count
                        guard ref.nodeIndex >= 0, ref.nodeIndex < calls else {
                            throw NetworkError(layer: s.name, "reads call \(ref.nodeIndex) of '\(ref.layer)', which is called \(calls) time\(calls == 1 ? "" : "s")")
                        }
                        return Key(spec: p, call: ref.nodeIndex)
                    }
                }
            }
        }

        // Kahn's algorithm over the calls, taking at each step the earliest ready call in config
        // order (a heap): a topological order that keeps the config's where the graph allows.
        var keyIndex: [Key: Int] = [:]
        for (i, key) in keys.enumerated() { keyIndex[key] = i }
        var consumers = [[Int]](repeating: [], count: keys.count)
        var missing = [Int](repeating: 0, count: keys.count)
        for (i, key) in keys.enumerated() {
            missing[i] = reads[key]!.count
            for r in reads[key]! { consumers[keyIndex[r]!].append(i) }
        }
        var ready = MinHeap(keys.indices.filter { missing[$0] == 0 })
        var sorted: [Key] = []
        sorted.reserveCapacity(keys.count)
        while let i = ready.pop() {
            sorted.append(keys[i])
            for c in consumers[i] {
                missing[c] -= 1
                if missing[c] == 0 { ready.push(c) }
            }
        }
        guard sorted.count == keys.count else {
            let stuck = keys.indices.first { missing[$0] > 0 }!
            throw NetworkError(layer: specs[keys[stuck].spec].name, "the graph has a cycle through this layer")
        }
        var position: [Key: Int] = [:]
        for (i, key) in sorted.enumerated() { position[key] = i }

        // The model's input and output calls.
        var inputKeys: [Key] = []
        var outputKeys: [Key] = []
        if definition.isSequential && !definition.wiredByInbound {
            if implicitInput == nil { inputKeys = [Key(spec: 0, call: 0)] }
            outputKeys = [Key(spec: specs.count - 1, call: 0)]
        } else {
            for ref in definition.inputs {
                guard let i = index[ref.layer], specs[i].isInput else {
                    throw NetworkError(layer: ref.layer, "the model's input is not an InputLayer of the config")
                }
                guard !inputKeys.contains(Key(spec: i, call: 0)) else {
                    throw NetworkError(layer: ref.layer, "the model lists this input twice")
                }
                inputKeys.append(Key(spec: i, call: 0))
            }
            for ref in definition.outputs {
                guard let o = index[ref.layer], ref.tensorIndex == 0, position[Key(spec: o, call: ref.nodeIndex)] != nil else {
                    throw NetworkError(layer: ref.layer, "the model's output names a layer call that is not in the config")
                }
                outputKeys.append(Key(spec: o, call: ref.nodeIndex))
            }
            guard !inputKeys.isEmpty, !outputKeys.isEmpty else {
                throw NetworkError(layer: nil, "the model has \(inputKeys.count) inputs and \(outputKeys.count) outputs")
            }
        }

        // The layer objects, each after its inputs.
        var offset = 0
        if let shape = implicitInput {
            let layer = try InputLayerNode(name: specs[0].name + "_input", batchShape: shape)
            try Self.checkSampleShape(layer.outputShape, layer: layer.name, what: "input of shape")
            nodes.append(GraphNode(spec: nil, layer: .input(layer), inputs: []))
            offset = 1
        }
        firstNode = Array(repeating: nil, count: specs.count)
        for key in sorted {
            var inputs = reads[key]!.map { position[$0]! + offset }
            if implicitInput != nil, key.spec == 0 { inputs = [0] }
            let shapes = inputs.map { nodes[$0].layer.base.outputShape }
            let layer = try Self.makeLayer(specs[key.spec], inputShapes: shapes, store: store)
            if firstNode[key.spec] == nil { firstNode[key.spec] = nodes.count }
            let spec = specs[key.spec]
            let training = key.call < spec.callTraining.count ? spec.callTraining[key.call] : nil
            nodes.append(GraphNode(spec: key.spec, layer: layer, inputs: inputs, training: training))
        }
        inputs = implicitInput != nil ? [0] : inputKeys.map { position[$0]! + offset }
        outputs = outputKeys.map { position[$0]! + offset }
        inputSlot = Array(repeating: nil, count: nodes.count)
        for (slot, n) in inputs.enumerated() { inputSlot[n] = slot }

        // What the outputs depend on, in node order.
        var needed = [Bool](repeating: false, count: nodes.count)
        for o in outputs { needed[o] = true }
        for n in stride(from: outputs.max()!, through: 0, by: -1) where needed[n] {
            for i in nodes[n].inputs { needed[i] = true }
        }
        let outputNames = outputs.map { nodes[$0].layer.base.name }.joined(separator: "', '")
        for n in inputs where !needed[n] {
            throw NetworkError(layer: outputNames, "the output\(outputs.count == 1 ? "" : "s") \(outputs.count == 1 ? "does" : "do") not depend on the model's input layer '\(nodes[n].layer.base.name)'")
        }
        // An InputLayer the outputs need but the model does not list has no data to read
        // (Keras: "Graph disconnected").
        for n in nodes.indices where needed[n] && inputSlot[n] == nil {
            if case .input = nodes[n].layer {
                throw NetworkError(layer: nodes[n].layer.base.name, "the model's outputs need this InputLayer, which is not among the model's inputs")
            }
        }
        order = nodes.indices.filter { needed[$0] }
        sumsAtFusedAdd = Array(repeating: false, count: nodes.count)
    }

    /// Marks which input gradients a backward needs: those that lead to a trainable weight.
    mutating func planGradients() {
        var upstream = [Bool](repeating: false, count: nodes.count)
        for n in nodes.indices {
            let own = nodes[n].layer.base.parameters.contains { $0.trainable }
            upstream[n] = own || nodes[n].inputs.contains { upstream[$0] }
        }
        needsInputGradient = nodes.map { node in node.inputs.map { upstream[$0] } }
    }

    /// Refuses a per-sample shape whose size overflows or whose one sample (with its gradient)
    /// does not fit the memory budget, before the layer that would compute it is built: a
    /// 100000 x 100000 input or a Reshape to 2^62 values is refused by name, not allocated.
    static func checkSampleShape(_ shape: [Int], layer: String, what: String) throws {
        do {
            try MemoryBudget.check("its \(what) \(describeShape(shape)) (one sample, with its gradient)",
                                   bytes: MemoryBudget.byteCount(shape, elementSize: 8))
        } catch let error as ResourceError {
            throw NetworkError(layer: layer, error.message)
        }
    }

    static func makeLayer(_ spec: LayerSpec, inputShapes: [[Int]], store: ParameterStore) throws -> NodeLayer {
        for shape in inputShapes { try checkSampleShape(shape, layer: spec.name, what: "input of shape") }
        let layer = try makeUncheckedLayer(spec, inputShapes: inputShapes, store: store)
        try checkSampleShape(layer.base.outputShape, layer: spec.name, what: "output of shape")
        return layer
    }

    private static func makeUncheckedLayer(_ spec: LayerSpec, inputShapes: [[Int]], store: ParameterStore) throws -> NodeLayer {
        switch spec.kind {
        case .merge(let operation):
            return .merge(try MergeLayer(name: spec.name, operation: operation, inputShapes: inputShapes))
        case .scalar(let operation, let constant, let tensorFirst):
            guard inputShapes.count == 1 else { throw NetworkError(layer: spec.name, "takes \(inputShapes.count) tensors and a number; it takes one tensor") }
            return .single(ScalarOperationLayer(name: spec.name, operation: operation, constant: constant,
                                                tensorFirst: tensorFirst, inputShape: inputShapes[0]))
        case .concatenate(let axis):
            return .merge(try ConcatenateLayer(name: spec.name, axis: axis, inputShapes: inputShapes))
        case .input(let batchShape):
            return .input(try InputLayerNode(name: spec.name, batchShape: batchShape))
        default:
            guard inputShapes.count == 1 else {
                throw NetworkError(layer: spec.name, "takes \(inputShapes.count) inputs; a \(spec.className) takes one")
            }
        }
        let shape = inputShapes[0]
        switch spec.kind {
        case .activation(let f): return .single(ActivationLayer(name: spec.name, function: f, inputShape: shape))
        case .conv2D(let c): return .single(try Conv2DLayer(name: spec.name, spec: c, inputShape: shape, store: store))
        case .maxPooling2D(let p): return .single(try MaxPooling2DLayer(name: spec.name, spec: p, inputShape: shape))
        case .reshape(let t): return .single(try ReshapeLayer(name: spec.name, targetShape: t, inputShape: shape))
        case .flatten(let f): return .single(FlattenLayer(name: spec.name, dataFormat: f, inputShape: shape))
        case .dense(let d): return .single(try DenseLayer(name: spec.name, spec: d, inputShape: shape, store: store))
        case .dropout(let rate, _): return .single(try DropoutLayer(name: spec.name, rate: rate, config: spec.config, inputShape: shape))
        case .batchNormalization, .activationLayer, .prelu, .rescaling, .normalization:
            return .single(try makeNormalizationFamilyLayer(spec, inputShape: shape, store: store)!)
        case .spatial(let s): return .single(try makeSpatialLayer(s, spec: spec, inputShape: shape, store: store))
        case .unsupported: throw NetworkError(layer: spec.name, "\(spec.className) is not a layer Relapse computes")
        case .input, .merge, .concatenate, .scalar: fatalError("handled above")
        }
    }
}

extension LayerSpec {
    var isInput: Bool {
        if case .input = kind { return true }
        return false
    }
}

/// A binary min-heap of integers (the ready calls of the topological sort).
private struct MinHeap {
    private var items: [Int] = []

    init(_ values: [Int]) { values.forEach { push($0) } }

    mutating func push(_ value: Int) {
        items.append(value)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count, items[l] < items[smallest] { smallest = l }
                if r < items.count, items[r] < items[smallest] { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
