import Kernels
import Network

/// One model being trained: the network, its optimizer and its loss, stepping batch by batch
/// exactly as Keras's `fit` does (mean loss over the batch, one optimizer step per batch).
public final class Trainer {
    public let network: Network
    public var optimizer: Optimizer
    /// The compiled loss: the one output's, or one entry per output of a model with several.
    public var losses: ModelLoss
    public var semantics: LossSemantics

    public convenience init(network: Network, optimizer: Optimizer, loss: Loss, semantics: LossSemantics) {
        self.init(network: network, optimizer: optimizer, losses: .single(loss), semantics: semantics)
    }

    public init(network: Network, optimizer: Optimizer, losses: ModelLoss, semantics: LossSemantics) {
        self.network = network
        self.optimizer = optimizer
        self.losses = losses
        self.semantics = semantics
        network.activityPenaltyPerSample = semantics != .keras22
    }

    /// The loss of a model with one output (`losses` is `.single`).
    public var loss: Loss {
        get {
            guard case .single(let loss) = losses else { preconditionFailure("the model has a loss per output") }
            return loss
        }
        set { losses = .single(newValue) }
    }

    /// What the loss of output `k` sees of it: softmax/sigmoid (whose logits tf.keras uses) or not.
    func outputActivation(_ k: Int) -> OutputActivation {
        network.outputActivation(k).map { OutputActivation(kerasName: $0.rawValue) } ?? .other
    }

    var outputActivation: OutputActivation { outputActivation(0) }

    /// One training step on a batch of every input and target: `step(x:y:)` for a model with one
    /// input and one output, `stepOutputs` otherwise.
    @discardableResult
    public func step(_ batch: BatchTensors) throws -> BatchResult {
        if network.inputCount == 1, case .single = losses, batch.targets.count == 1 {
            return try step(x: batch.inputs[0], y: batch.targets[0])
        }
        return try stepOutputs(batch)
    }

    /// One training step on a batch; returns the batch's mean loss and how many of its samples
    /// the model got right.
    @discardableResult
    public func step(x: Tensor, y: Tensor) throws -> BatchResult {
        let output = try network.forward(x, training: true)
        let evaluation = loss.evaluate(output: output, logits: network.outputLogits, activation: outputActivation,
                                       labels: y, semantics: semantics)
        // Keras's reported and optimised loss: the compiled loss plus `model.losses` (weight and
        // activity regularizers), evaluated on the weights this batch's forward pass used.
        let penalty = network.hasRegularization ? network.regularizationPenalty() : 0
        let result = BatchResult(loss: evaluation.mean + penalty, perSample: evaluation.perSample.data,
                                 correct: Accuracy.correct(output: output, labels: y), count: x.shape[0],
                                 reportWeight: reportWeight(batch: x.shape[0]))
        switch evaluation.gradient {
        case .output(let g): try network.backward(g, withRespectTo: .output)
        case .logits(let g): try network.backward(g, withRespectTo: .logits)
        }
        try finishStep()
        return result
    }

    /// The rest of a step once the loss's gradient is in: the regularizers' gradients, then the
    /// update. Only Keras's `trainable_weights` reach the optimizer; constraints project them
    /// after the update (`apply_grad_to_update_var` in tf_keras/src/optimizers/optimizer.py,
    /// `BaseOptimizer.apply` in keras/src/optimizers/base_optimizer.py, `get_updates` in Keras
    /// 2.2.4's optimizers.py).
    func finishStep() throws {
        network.addWeightRegularizationGradients()
        try optimizer.step(parameters: network.trainableVariables)
        network.applyConstraints()
    }

    /// The weight Keras's loss `Mean` gives a batch of `batch` samples: its size; with reduction
    /// `none`, tf-keras weights each of the batch's per-sample losses by the batch size, so the
    /// batch's mean counts `batch * batch` (Keras 3: plain per-sample mean). See LossReduction.
    func reportWeight(batch: Int) -> Double {
        let n = Double(batch)
        guard losses.reducesNone else { return n }
        switch semantics {
        case .keras22, .tfKeras: return n * n
        case .keras3, .keras3TensorFlow: return n
        }
    }

    /// The outputs of a model with one input and one output for `x`, in batches.
    public func predict(_ x: Tensor, batchSize: Int) throws -> Tensor {
        try predict(inputs: [x], batchSize: batchSize)[0]
    }
}

public struct BatchResult: Sendable {
    /// The total: every output's weighted loss, plus the regularization penalties.
    public var loss: Float
    /// The one loss's per-sample values; empty for a model with several outputs.
    public var perSample: [Float]
    /// Samples the (first) output got right.
    public var correct: Int
    public var count: Int
    /// The batch's weight in the epoch's mean loss (its size, but see `Trainer.reportWeight`).
    public var reportWeight: Double
    /// A model with several outputs: each output with a loss (`ModelLoss.targetOutputs`), its
    /// loss before its weight and the samples it got right.
    public var outputLosses: [Float] = []
    public var outputCorrect: [Int] = []

    public init(loss: Float, perSample: [Float], correct: Int, count: Int, reportWeight: Double? = nil) {
        self.loss = loss
        self.perSample = perSample
        self.correct = correct
        self.count = count
        self.reportWeight = reportWeight ?? Double(count)
    }
}

/// Keras's "accuracy" for one-hot outputs (categorical: argmax agrees), for class-index labels
/// (sparse categorical: argmax equals the index) and for a single sigmoid output (binary:
/// rounded prediction equals the label).
enum Accuracy {
    static func correct(output: Tensor, labels: Tensor) -> Int {
        let width = output.shape.last ?? 1
        let rows = output.count / max(width, 1)
        var correct = 0
        if width > 1 && labels.count == rows {
            for r in 0..<rows where argmax(output.data[(r * width)..<((r + 1) * width)]) == Int(labels.data[r]) { correct += 1 }
            return correct
        }
        for r in 0..<rows {
            let o = output.data[(r * width)..<((r + 1) * width)]
            let y = labels.data[(r * width)..<((r + 1) * width)]
            if width == 1 {
                if (o.first! > 0.5) == (y.first! > 0.5) { correct += 1 }
            } else if argmax(o) == argmax(y) {
                correct += 1
            }
        }
        return correct
    }

    private static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for i in values.indices where values[i] > values[best] { best = i }
        return best - values.startIndex
    }
}
