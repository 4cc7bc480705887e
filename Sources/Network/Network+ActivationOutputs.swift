import Kernels

extension Network {
    /// Every call of a layer whose last operation is a ReLU (an `Activation('relu')` layer, or a
    /// layer with `activation='relu'` fused), in execution order, with its output from the last
    /// forward pass (the layer's own buffer, no copy): what the dead-unit signal reads.
    public var reluOutputs: [(layer: String, output: Tensor)] {
        graph.order.compactMap { n in
            let layer = graph.nodes[n].layer.base
            return layer.finalActivation == .relu ? (layer.name, layer.output) : nil
        }
    }
}
