import Kernels
import Network

/// One model being trained: the network, its optimizer and its loss, stepping batch by batch
/// exactly as Keras's `fit` does (mean loss over the batch, one optimizer step per batch).
public final class Trainer {
    public let network: Network
    public var optimizer: Optimizer
    public var loss: Loss
    public var semantics: LossSemantics

    public init(network: Network, optimizer: Optimizer, loss: Loss, semantics: LossSemantics) {
        self.network = network
        self.optimizer = optimizer
        self.loss = loss
        self.semantics = semantics
        network.activityPenaltyPerSample = semantics != .keras22
    }

    /// What the loss sees of the output: softmax/sigmoid (whose logits tf.keras uses) or not.
    var outputActivation: OutputActivation {
        network.outputActivation.map { OutputActivation(kerasName: $0.rawValue) } ?? .other
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
        network.addWeightRegularizationGradients()
        // Only Keras's `trainable_weights` reach the optimizer; constraints project them after
        // the update (`apply_grad_to_update_var` in tf_keras/src/optimizers/optimizer.py,
        // `BaseOptimizer.apply` in keras/src/optimizers/base_optimizer.py, `get_updates` in
        // Keras 2.2.4's optimizers.py).
        try optimizer.step(parameters: network.trainableVariables)
        network.applyConstraints()
        return result
    }

    /// Loss and accuracy without training (dropout off), batch by batch as Keras's `evaluate`.
    public func evaluate(_ data: Dataset, batchSize: Int) throws -> (loss: Double, accuracy: Double) {
        var (bx, by) = data.makeBatchTensors(batchSize: min(batchSize, max(data.count, 1)))
        var total = 0.0, weights = 0.0, correct = 0
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let end = min(start + batchSize, data.count)
            data.batch(indices: start..<end, x: &bx, y: &by)
            let output = try network.forward(bx, training: false)
            let evaluation = loss.evaluate(output: output, logits: network.outputLogits, activation: outputActivation,
                                           labels: by, semantics: semantics)
            let penalty = network.hasRegularization ? network.regularizationPenalty() : 0
            let weight = reportWeight(batch: end - start)
            total += Double(evaluation.mean + penalty) * weight
            weights += weight
            correct += Accuracy.correct(output: output, labels: by)
        }
        return (weights > 0 ? total / weights : .nan, Double(correct) / Double(max(data.count, 1)))
    }

    /// The weight Keras's loss `Mean` gives a batch of `batch` samples: its size; with reduction
    /// `none`, tf-keras weights each of the batch's per-sample losses by the batch size, so the
    /// batch's mean counts `batch * batch` (Keras 3: plain per-sample mean). See LossReduction.
    func reportWeight(batch: Int) -> Double {
        let n = Double(batch)
        guard loss.reduction == .none else { return n }
        switch semantics {
        case .keras22, .tfKeras: return n * n
        case .keras3, .keras3TensorFlow: return n
        }
    }

    /// The model's outputs for `x`, in batches.
    public func predict(_ x: Tensor, batchSize: Int) throws -> Tensor {
        precondition(batchSize > 0)
        let count = x.shape.first ?? 0
        let batchSize = min(batchSize, max(count, 1))
        let width = x.shape.dropFirst().reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(count * network.outputShape.reduce(1, *))
        for start in stride(from: 0, to: count, by: batchSize) {
            let end = min(start + batchSize, count)
            let batch = Tensor(shape: [end - start] + x.shape.dropFirst(), data: Array(x.data[(start * width)..<(end * width)]))
            out += try network.forward(batch, training: false).data
        }
        return Tensor(shape: [count] + network.outputShape, data: out)
    }
}

public struct BatchResult: Sendable {
    public var loss: Float
    public var perSample: [Float]
    public var correct: Int
    public var count: Int
    /// The batch's weight in the epoch's mean loss (its size, but see `Trainer.reportWeight`).
    public var reportWeight: Double

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
