import KerasFile
import Kernels

extension Network {
    // MARK: Forward / backward

    /// Runs a batch (shape [batch] + `inputShape`) through a model with one input and returns its
    /// (first) output. In training, dropout draws its masks from `dropoutGenerator`. The returned
    /// tensor shares the output layer's buffer until the next call (holding it across calls costs
    /// a copy, nothing more).
    @discardableResult
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard graph.inputs.count == 1 else {
            throw NetworkError(layer: nil, "the model has \(graph.inputs.count) inputs (\(definition.inputNames.joined(separator: ", "))); give one tensor for each")
        }
        return try forward(inputs: [x], training: training)[0]
    }

    /// Runs a batch through the model: one tensor per input, in the config's flat order (each
    /// [batch] + its `inputShapes` entry, all of one batch size); returns one tensor per output,
    /// each sharing its layer's buffer until the next call.
    @discardableResult
    public func forward(inputs x: [Tensor], training: Bool) throws -> [Tensor] {
        guard x.count == graph.inputs.count else {
            throw NetworkError(layer: nil, "\(x.count) input tensors given; the model has \(graph.inputs.count) inputs")
        }
        for (k, t) in x.enumerated() {
            let shape = inputShapes[k]
            guard t.rank == shape.count + 1, Array(t.shape.dropFirst()) == shape else {
                let which = x.count == 1 ? "input" : "input '\(definition.inputNames[k])'"
                throw NetworkError(layer: nil, "\(which) of shape \(describeShape(t.shape)) does not match the model's \(which) (batch, \(shape.map(String.init).joined(separator: ", ")))")
            }
            guard t.samples > 0 else { throw NetworkError(layer: nil, "empty batch") }
            guard t.samples == x[0].samples else {
                throw NetworkError(layer: nil, "input '\(definition.inputNames[k])' holds \(t.samples) samples but input '\(definition.inputNames[0])' \(x[0].samples)")
            }
        }
        let nodes = graph.nodes
        for n in graph.order {
            let node = nodes[n]
            switch node.layer {
            case .input(let l): l.forward(x[graph.inputSlot[n]!], training: training, rng: &dropoutGenerator)
            case .single(let l): l.forward(nodes[node.inputs[0]].layer.base.output, training: node.training ?? training, rng: &dropoutGenerator)
            case .merge(let l): l.forward(node.inputs.map { nodes[$0].layer.base.output })
            }
        }
        forwardDone = true
        return graph.outputs.map { nodes[$0].layer.base.output }
    }

    /// The final activation of output `k` when it comes straight from a softmax or sigmoid (an
    /// Activation layer, or a Dense/Conv2D with it fused); nil otherwise.
    public func outputActivation(_ k: Int) -> ActivationFunction? {
        activation(ofNode: graph.outputs[k])
    }

    /// The (first) output's final softmax or sigmoid: `outputActivation(0)`.
    public var outputActivation: ActivationFunction? { outputActivation(0) }

    /// The values output `k`'s final softmax/sigmoid was applied to in the last forward (tf.keras
    /// computes cross-entropy from these); nil when `outputActivation(k)` is nil.
    public func outputLogits(_ k: Int) -> Tensor? {
        guard forwardDone else { return nil }
        return logits(ofNode: graph.outputs[k])
    }

    /// The (first) output's logits: `outputLogits(0)`.
    public var outputLogits: Tensor? { outputLogits(0) }

    private func activation(ofNode n: Int) -> ActivationFunction? {
        let f = graph.nodes[n].layer.base.finalActivation
        return (f == .softmax || f == .sigmoid) ? f : nil
    }

    private func logits(ofNode n: Int) -> Tensor? {
        guard activation(ofNode: n) != nil else { return nil }
        let node = graph.nodes[n]
        if case .single(let l) = node.layer, l is ActivationLayer {
            return graph.nodes[node.inputs[0]].layer.base.output
        }
        return node.layer.base.preActivation
    }

    /// Back-propagates `gradient` (w.r.t. the output, or w.r.t. `outputLogits`) of a model with
    /// one output: `backward(outputs:)` with that one gradient.
    public func backward(_ gradient: Tensor, withRespectTo target: GradientTarget = .output, accumulate: Bool = false) throws {
        guard graph.outputs.count == 1 else {
            throw NetworkError(layer: nil, "the model has \(graph.outputs.count) outputs; give a gradient (or none) for each")
        }
        try backward(outputs: [OutputGradient(gradient, withRespectTo: target)], accumulate: accumulate)
    }

    /// Back-propagates one gradient per output (nil: the output has no loss; w.r.t. the output,
    /// or w.r.t. its `outputLogits`) through the last forward pass and stores the parameter
    /// gradients in `variables[i].gradient` (overwriting, or adding with `accumulate`). Nodes run
    /// last to first; a node read by several others, or that is itself an output, gets all its
    /// gradients summed before its own backward, as Keras's sum of the outputs' losses has it.
    /// Input gradients are computed only where a trainable weight lies upstream (the seed model's
    /// first Conv2D sits behind a ReLU on the input: its input gradient would be a third of the
    /// step's GEMM work, thrown away).
    public func backward(outputs gradients: [OutputGradient?], accumulate: Bool = false) throws {
        guard forwardDone else { throw NetworkError(layer: nil, "backward called before forward") }
        guard gradients.count == graph.outputs.count else {
            throw NetworkError(layer: nil, "\(gradients.count) output gradients given; the model has \(graph.outputs.count) outputs")
        }
        let nodes = graph.nodes
        if nodeGradients.count != nodes.count { nodeGradients = Array(repeating: nil, count: nodes.count) }
        if logitGradients.count != nodes.count { logitGradients = Array(repeating: nil, count: nodes.count) }
        if laterGradients.count != nodes.count { laterGradients = Array(repeating: [], count: nodes.count) }
        defer {
            for n in nodeGradients.indices { nodeGradients[n] = nil }
            for n in logitGradients.indices { logitGradients[n] = nil }
            for n in laterGradients.indices where !laterGradients[n].isEmpty { laterGradients[n].removeAll(keepingCapacity: true) }
        }
        for (k, given) in gradients.enumerated() {
            guard let given else { continue }
            let n = graph.outputs[k]
            let outShape = nodes[n].layer.base.output.shape
            guard given.gradient.shape == outShape else {
                let which = graph.outputs.count == 1 ? "the output" : "output '\(definition.outputNames[k])'"
                throw NetworkError(layer: nil, "gradient of shape \(describeShape(given.gradient.shape)) does not match \(which) \(describeShape(outShape))")
            }
            switch given.target {
            case .output:
                addGradient(given.gradient, toNode: n)
            case .logits:
                guard activation(ofNode: n) != nil else {
                    throw NetworkError(layer: nodes[n].layer.base.name, "the output does not come from a softmax or sigmoid, so it has no logits")
                }
                add(given.gradient, to: &logitGradients[n])
            }
        }
        if !accumulate { zeroGradients() }
        for n in graph.order.reversed() {
            // A gradient w.r.t. the logits skips the final activation's backward; one w.r.t. the
            // same node's output (a consumer's, or a second output of it) goes through that
            // activation first and joins it there.
            let skip = logitGradients[n] != nil
            var g: Tensor
            if skip {
                g = logitGradients[n]!
                logitGradients[n] = nil
                if let dy = nodeGradients[n] { addThroughFinalActivation(node: n, dy, toLogitGradient: &g) }
            } else {
                guard let dy = nodeGradients[n] else { continue }
                g = dy
            }
            nodeGradients[n] = nil
            let node = nodes[n]
            if activityRegularizers[n] != nil {
                if skip {
                    var dy = Tensor(zeros: node.layer.base.output.shape)
                    addActivityGradient(node: n, to: &dy)
                    addThroughFinalActivation(node: n, dy, toLogitGradient: &g)
                } else {
                    addActivityGradient(node: n, to: &g)
                }
            }
            let need = graph.needsInputGradient[n]
            switch node.layer {
            case .input:
                continue
            case .single(let l):
                let input = nodes[node.inputs[0]].layer.base.output
                guard let dx = l.backward(input: input, gradOutput: g, skipActivation: skip, needInputGradient: need[0]) else { continue }
                addGradient(dx, toNode: node.inputs[0])
                if !laterGradients[n].isEmpty {
                    // A fused ReLU hands the unsummed rest to its Add (read by it alone).
                    laterGradients.swapAt(n, node.inputs[0])
                }
            case .merge(let l):
                let inputs = node.inputs.map { nodes[$0].layer.base.output }
                let dxs = laterGradients[n].isEmpty
                    ? l.backward(inputs: inputs, gradOutput: g, needInputGradients: need)
                    : (l as! MergeLayer).backward(gradOutputs: [g] + laterGradients[n], needInputGradients: need)
                for (i, dx) in dxs.enumerated() {
                    if let dx { addGradient(dx, toNode: node.inputs[i]) }
                }
            }
        }
    }

    /// A gradient `dy` w.r.t. node `n`'s output, taken back through its final softmax or sigmoid
    /// and added to `g`, a gradient w.r.t. its logits (tf.keras's cached-logits shortcut): an
    /// activity penalty on an output layer (Keras penalises the layer's output, after the
    /// activation), or a consumer of an output whose loss is taken on the logits.
    private func addThroughFinalActivation(node n: Int, _ dy: Tensor, toLogitGradient g: inout Tensor) {
        let layer = graph.nodes[n].layer.base
        let y = layer.output
        guard let z = logits(ofNode: n) else { return }
        var dz = Tensor(zeros: y.shape)
        let kernel = layer.finalActivation.kernel(shape: Array(y.shape.dropFirst()))
        let count = y.count
        z.withPointer { zp in y.withPointer { yp in dy.withPointer { d in dz.withMutablePointer { out in
            kernel.backward(input: zp, output: yp, gradOutput: d, gradInput: out, count: count)
        } } } }
        dz.withPointer { d in g.withMutablePointer { gp in for i in 0..<count { gp[i] += d[i] } } }
    }

    /// `slot += t`, or `slot = t` when it is empty (no copy).
    private func add(_ t: Tensor, to slot: inout Tensor?) {
        guard slot != nil else {
            slot = t
            return
        }
        let count = t.count
        t.withPointer { d in slot!.withMutablePointer { g in for i in 0..<count { g[i] += d[i] } } }
    }

    /// Sums a consumer's input gradient into the gradient of node `n`'s output. The first one is
    /// kept as it is (no copy: a chain never adds). The sum goes into the node's own buffer,
    /// reused from step to step: adding into the first gradient, a layer's buffer, would copy it
    /// (copy-on-write) on every step of a residual model.
    private func addGradient(_ dx: Tensor, toNode n: Int) {
        guard let first = nodeGradients[n] else {
            nodeGradients[n] = dx
            return
        }
        if graph.sumsAtFusedAdd[n] {
            laterGradients[n].append(dx)
            return
        }
        if gradientSums.count != nodeGradients.count { gradientSums = Array(repeating: Tensor(zeros: [0]), count: nodeGradients.count) }
        let runningSum = sharesStorage(first, gradientSums[n])
        // Only `sum` may hold the buffer while it is written, or it would be copied.
        var sum = gradientSums[n]
        gradientSums[n] = Tensor(zeros: [0])
        nodeGradients[n] = nil
        let count = dx.count
        if runningSum {
            _ = consume first
            sum.withMutablePointer { s in dx.withPointer { d in addElementwise(s, d, into: s, count: count) } }
        } else {
            sum.ensureShape(dx.shape)
            sum.withMutablePointer { s in first.withPointer { f in dx.withPointer { d in addElementwise(f, d, into: s, count: count) } } }
        }
        gradientSums[n] = sum
        nodeGradients[n] = sum
    }

    public func zeroGradients() {
        for v in variables {
            let n = v.gradient.count
            v.gradient.withMutablePointer { $0.update(repeating: 0, count: n) }
        }
    }

    // MARK: Parameters

    /// (layer name, weight name) of each entry of `parameters` / `gradients`.
    public var parameterNames: [(layer: String, weight: String)] { variables.map { ($0.layerName, $0.weightName) } }
    public var parameters: [Tensor] { variables.map(\.value) }
    public var gradients: [Tensor] { variables.map(\.gradient) }
    public var parameterCount: Int { variables.reduce(0) { $0 + $1.value.count } }

    /// Replaces every parameter, in `parameters`' order; shapes must match.
    public func setParameters(_ values: [Tensor]) throws {
        guard values.count == variables.count else {
            throw NetworkError(layer: nil, "expected \(variables.count) weight tensors, got \(values.count)")
        }
        for (v, t) in zip(variables, values) { try Network.check(t, against: v) }
        for (v, t) in zip(variables, values) { v.value = t }
    }

    /// Loads Keras weights keyed by layer name, each layer's list in Keras's order (kernel, bias).
    /// Every layer with weights must be present, with the shapes its config implies.
    public func loadWeights(_ weights: [String: [Tensor]]) throws {
        let byLayer = Dictionary(grouping: variables, by: \.layerName)
        for info in layerInfos {
            let vars = byLayer[info.name] ?? []
            let given = weights[info.name] ?? []
            if vars.isEmpty {
                guard given.isEmpty else {
                    throw NetworkError(layer: info.name, "\(given.count) weight tensors given, but a \(info.className) has none")
                }
                continue
            }
            guard given.count == vars.count else {
                throw NetworkError(layer: info.name, "expected \(vars.count) weight tensors (\(vars.map(\.weightName).joined(separator: ", "))), got \(given.count)")
            }
            for (v, t) in zip(vars, given) { try Network.check(t, against: v) }
        }
        let known = Set(layerInfos.map(\.name))
        if let extra = weights.keys.sorted().first(where: { !known.contains($0) && !(weights[$0]?.isEmpty ?? true) }) {
            throw NetworkError(layer: extra, "weights given for a layer that is not in the model")
        }
        for (name, vars) in byLayer {
            for (v, t) in zip(vars, weights[name]!) { v.value = t }
        }
    }

    /// The weights as `loadWeights` takes them.
    public var weightsByLayer: [String: [Tensor]] {
        Dictionary(grouping: variables, by: \.layerName).mapValues { $0.map(\.value) }
    }

    static func check(_ t: Tensor, against v: Parameter) throws {
        guard t.shape == v.shape else {
            throw NetworkError(layer: v.layerName, "weight '\(v.weightName)' has shape \(describeShape(t.shape)), expected \(describeShape(v.shape))")
        }
    }

    /// Fills every parameter from its layer's `kernel_initializer` / `bias_initializer`
    /// (glorot_uniform and zeros by default), drawing in parameter order from one generator.
    public func initializeWeights(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let specs = Dictionary(uniqueKeysWithValues: definition.layers.map { ($0.name, $0) })
        for v in variables {
            let config = specs[v.layerName]?.config ?? .object([])
            // Keras's `<weight>_initializer` and its default (gamma and moving_variance: ones);
            // depthwise_kernel / pointwise_kernel: depthwise_initializer / pointwise_initializer.
            let defaultInitializer: Initializer = switch v.weightName {
            case "kernel", "depthwise_kernel", "pointwise_kernel": .glorotUniform
            case "gamma", "moving_variance", "variance": .constant(1)
            default: .constant(0)
            }
            let key = v.weightName.hasSuffix("_kernel") ? v.weightName.replacingOccurrences(of: "_kernel", with: "_initializer") : "\(v.weightName)_initializer"
            let initializer = try Initializer.parse(config[key], default: defaultInitializer, layer: v.layerName)
            v.value = Tensor(shape: v.shape, data: initializer.values(shape: v.shape, rng: &rng))
        }
    }
}
