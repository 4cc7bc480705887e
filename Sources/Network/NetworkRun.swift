import KerasFile
import Kernels

extension Network {
    // MARK: Forward / backward

    /// Runs a batch (shape [batch] + `inputShape`) through the network. In training, dropout
    /// draws its masks from `dropoutGenerator`. The returned tensor shares the output layer's
    /// buffer until the next call (holding it across calls costs a copy, nothing more).
    @discardableResult
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard x.rank == inputShape.count + 1, Array(x.shape.dropFirst()) == inputShape else {
            throw NetworkError(layer: nil, "input of shape \(describeShape(x.shape)) does not match the model's input (batch, \(inputShape.map(String.init).joined(separator: ", ")))")
        }
        guard x.samples > 0 else { throw NetworkError(layer: nil, "empty batch") }
        lastInputStorage = x
        let nodes = graph.nodes
        for n in graph.order {
            let node = nodes[n]
            switch node.layer {
            case .input(let l): l.forward(x, training: training, rng: &dropoutGenerator)
            case .single(let l): l.forward(nodes[node.inputs[0]].layer.base.output, training: node.training ?? training, rng: &dropoutGenerator)
            case .merge(let l): l.forward(node.inputs.map { nodes[$0].layer.base.output })
            }
        }
        forwardDone = true
        return nodes[graph.output].layer.base.output
    }

    /// The final activation when the output comes straight from a softmax or sigmoid (an
    /// Activation layer, or a Dense/Conv2D with it fused); nil otherwise.
    public var outputActivation: ActivationFunction? {
        let f = graph.nodes[graph.output].layer.base.finalActivation
        return (f == .softmax || f == .sigmoid) ? f : nil
    }

    /// The values the final softmax/sigmoid was applied to in the last forward (tf.keras computes
    /// cross-entropy from these); nil when `outputActivation` is nil.
    public var outputLogits: Tensor? {
        guard forwardDone, outputActivation != nil else { return nil }
        let node = graph.nodes[graph.output]
        if case .single(let l) = node.layer, l is ActivationLayer {
            return graph.nodes[node.inputs[0]].layer.base.output
        }
        return node.layer.base.preActivation
    }

    /// Back-propagates `gradient` (w.r.t. the output, or w.r.t. `outputLogits`) through the last
    /// forward pass and stores the parameter gradients in `variables[i].gradient` (overwriting,
    /// or adding with `accumulate`). Nodes run last to first; a node read by several others gets
    /// their gradients summed before its own backward. Input gradients are computed only where a
    /// trainable weight lies upstream (the seed model's first Conv2D sits behind a ReLU on the
    /// input: its input gradient would be a third of the step's GEMM work, thrown away).
    public func backward(_ gradient: Tensor, withRespectTo target: GradientTarget = .output, accumulate: Bool = false) throws {
        guard forwardDone else { throw NetworkError(layer: nil, "backward called before forward") }
        let nodes = graph.nodes
        let outputNode = graph.output
        let outShape = nodes[outputNode].layer.base.output.shape
        guard gradient.shape == outShape else {
            throw NetworkError(layer: nil, "gradient of shape \(describeShape(gradient.shape)) does not match the output \(describeShape(outShape))")
        }
        if target == .logits && outputActivation == nil {
            throw NetworkError(layer: nodes[outputNode].layer.base.name, "the output does not come from a softmax or sigmoid, so it has no logits")
        }
        if !accumulate { zeroGradients() }
        if nodeGradients.count != nodes.count { nodeGradients = Array(repeating: nil, count: nodes.count) }
        defer { for n in nodeGradients.indices { nodeGradients[n] = nil } }
        nodeGradients[outputNode] = gradient
        for n in graph.order.reversed() {
            guard var g = nodeGradients[n] else { continue }
            nodeGradients[n] = nil
            let node = nodes[n]
            let skip = target == .logits && n == outputNode
            if activityRegularizers[n] != nil {
                if skip {
                    addActivityGradientThroughFinalActivation(node: n, toLogitGradient: &g)
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
            case .merge(let l):
                let dxs = l.backward(inputs: node.inputs.map { nodes[$0].layer.base.output }, gradOutput: g, needInputGradients: need)
                for (i, dx) in dxs.enumerated() {
                    if let dx { addGradient(dx, toNode: node.inputs[i]) }
                }
            }
        }
    }

    /// An activity penalty on the output layer when the loss's gradient is w.r.t. the logits
    /// (tf.keras's cached-logits shortcut): Keras penalises the layer's output, after its
    /// softmax or sigmoid, so the penalty's gradient goes back through that activation and joins
    /// the loss's at the logits.
    private func addActivityGradientThroughFinalActivation(node n: Int, toLogitGradient g: inout Tensor) {
        let layer = graph.nodes[n].layer.base
        let y = layer.output
        guard let z = outputLogits else { return }
        var dy = Tensor(zeros: y.shape)
        addActivityGradient(node: n, to: &dy)
        var dz = Tensor(zeros: y.shape)
        let kernel = layer.finalActivation.kernel(shape: Array(y.shape.dropFirst()))
        let count = y.count
        z.withPointer { zp in y.withPointer { yp in dy.withPointer { d in dz.withMutablePointer { out in
            kernel.backward(input: zp, output: yp, gradOutput: d, gradInput: out, count: count)
        } } } }
        dz.withPointer { d in g.withMutablePointer { gp in for i in 0..<count { gp[i] += d[i] } } }
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
