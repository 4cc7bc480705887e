import Kernels

extension Network {
    /// The (first) output of the last forward pass (shares the output layer's buffer, no copy),
    /// for training diagnostics that look at the predictions after a step.
    public var lastOutput: Tensor { lastOutput(0) }

    /// Output `k` of the last forward pass (its layer's buffer, no copy).
    public func lastOutput(_ k: Int) -> Tensor { graph.nodes[graph.outputs[k]].layer.base.output }
}
