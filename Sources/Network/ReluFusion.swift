import KerasFile
import Kernels

/// A layer that can apply a plain ReLU reading only its output as part of its own passes:
/// forward it writes relu(y), backward it masks the gradient as ReluGrad would.
protocol ReluFusing: GraphLayer {
    /// Whether this layer's shape and settings have a fused path.
    var canFuseRelu: Bool { get }
    var fusedRelu: Bool { get set }
}

/// The ReLUs that CNNs put after a BatchNormalization (ResNets, VGG with BN, MobileNets' inner
/// blocks) and after a residual Add, each run inside the layer before it: that layer writes
/// relu(y) and masks its own gradient (`BatchNormalizationLayer.fusedRelu`,
/// `MergeLayer.fusedRelu`), and the ReLU's node passes values and gradients through untouched.
/// Every value is the one the two layers compute apart, bit for bit (the mask is TensorFlow's
/// ReluGrad select, on y > 0 recomputed with the forward's own float operations or on the
/// stored relu(y) > 0); what goes is memory traffic, the cost of these passes: y's write and read
/// forward, and behind a BatchNormalization the ReLU gradient's own pass backward
/// (docs/PERFORMANCE.md has the measured share). Where the Add's output has several readers (a
/// residual block's input), their gradients go to the Add unsummed and its masked pass sums them
/// (`sumsAtFusedAdd`, `MergeLayer.backward(gradOutputs:)`): one pass where summing first took two.
extension Graph {
    /// Fuses each plain ReLU (`Activation('relu')`, or `ReLU()` with its defaults) into the layer
    /// it reads when that layer can take it (`ReluFusing.canFuseRelu`) and nothing else reads its
    /// own output: not another layer, not the model's outputs, not an activity penalty. Returns
    /// the number of ReLUs fused.
    @discardableResult
    mutating func fuseReLUs(activityRegularized: Set<Int>) -> Int {
        var readers = [Int](repeating: 0, count: nodes.count)
        for n in order { for i in nodes[n].inputs { readers[i] += 1 } }
        let outputNodes = Set(outputs)
        var fused = 0
        for n in order {
            guard case .single(let layer) = nodes[n].layer, let relu = layer as? ActivationLayer, relu.isPlainRelu,
                  nodes[n].inputs.count == 1, let b = nodes[n].inputs.first,
                  let source = nodes[b].layer.base as? ReluFusing, source.canFuseRelu,
                  readers[b] == 1, !outputNodes.contains(b), !activityRegularized.contains(b) else { continue }
            source.fusedRelu = true
            let node = nodes[n]
            nodes[n] = GraphNode(spec: node.spec, layer: .single(FusedReluLayer(name: relu.name, source: source)),
                                 inputs: node.inputs, training: node.training)
            // Gradients that meet at this ReLU's output go to the Add unsummed (its masked pass
            // sums them), unless an output's loss or an activity penalty adds its own first.
            sumsAtFusedAdd[n] = source is MergeLayer && !outputNodes.contains(n) && !activityRegularized.contains(n)
            fused += 1
        }
        return fused
    }
}

/// The node of a ReLU that the layer it reads computes (`fuseReLUs`): its output is that layer's
/// (already relu(y)), its gradient goes back as it came.
final class FusedReluLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private unowned let source: ReluFusing

    init(name: String, source: ReluFusing) {
        self.name = name
        self.outputShape = source.outputShape
        self.source = source
    }

    var output: Tensor { source.output }
    var finalActivation: ActivationFunction { .relu }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {}

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        needInputGradient ? gradOutput : nil
    }
}
