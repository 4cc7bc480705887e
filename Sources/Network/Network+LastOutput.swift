import Kernels

extension Network {
    /// The output of the last forward pass (shares the output layer's buffer, no copy), for
    /// training diagnostics that look at the predictions after a step.
    public var lastOutput: Tensor { graph.nodes[graph.output].layer.base.output }
}
