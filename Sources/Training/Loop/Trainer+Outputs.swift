import Kernels
import Network

/// What a model with several inputs or outputs does per batch: every output's loss against its
/// target, their weighted sum as the step's loss (Keras's `add_n` of the weighted losses in
/// output order, then the regularization penalty: `LossesContainer.__call__` in
/// tf_keras/src/engine/compile_utils.py, `CompileLoss.call` and `Trainer.compute_loss` in
/// keras/src/trainers/, `compile` in Keras 2.2.4's engine/training.py), each output's gradient
/// (already weighted) handed to the network, which sums what meets on the way back.
extension Trainer {
    /// The losses of one forward pass: the weighted total, each target's unweighted loss and
    /// correct count, and the gradient for each output (nil where it has no loss).
    struct OutputEvaluation {
        var total: Float = 0
        var losses: [Float] = []
        var correct: [Int] = []
        var gradients: [OutputGradient?]
        var perSample: [Float] = []
    }

    func evaluateOutputs(_ outputs: [Tensor], targets: [Tensor]) -> OutputEvaluation {
        let entries = losses.outputs
        let targetOutputs = losses.targetOutputs
        precondition(targets.count == targetOutputs.count, "\(targets.count) targets for \(targetOutputs.count) outputs with a loss")
        var result = OutputEvaluation(gradients: Array(repeating: nil, count: outputs.count))
        for (j, k) in targetOutputs.enumerated() {
            let evaluation = entries[k].loss!.evaluate(output: outputs[k], logits: network.outputLogits(k),
                                                       activation: outputActivation(k), labels: targets[j], semantics: semantics)
            result.total += evaluation.mean
            result.losses.append(evaluation.unweighted)
            result.correct.append(Accuracy.correct(output: outputs[k], labels: targets[j]))
            switch evaluation.gradient {
            case .output(let g): result.gradients[k] = OutputGradient(g, withRespectTo: .output)
            case .logits(let g): result.gradients[k] = OutputGradient(g, withRespectTo: .logits)
            }
            if targetOutputs.count == 1 { result.perSample = evaluation.perSample.data }
        }
        return result
    }

    /// One training step of a model with several inputs or outputs.
    func stepOutputs(_ batch: BatchTensors) throws -> BatchResult {
        let outputs = try network.forward(inputs: batch.inputs, training: true)
        let evaluation = evaluateOutputs(outputs, targets: batch.targets)
        let penalty = network.hasRegularization ? network.regularizationPenalty() : 0
        let count = batch.inputs[0].shape[0]
        var result = BatchResult(loss: evaluation.total + penalty, perSample: evaluation.perSample,
                                 correct: evaluation.correct.first ?? 0, count: count, reportWeight: reportWeight(batch: count))
        result.outputLosses = evaluation.losses
        result.outputCorrect = evaluation.correct
        try network.backward(outputs: evaluation.gradients)
        try finishStep()
        return result
    }

    /// Loss and accuracy without training (dropout off), batch by batch as Keras's `evaluate`.
    public func evaluate(_ data: Dataset, batchSize: Int) throws -> (loss: Double, accuracy: Double) {
        let evaluated = try evaluation(data, batchSize: batchSize)
        return (evaluated.loss, evaluated.accuracy)
    }

    /// `evaluate` with each output's loss and accuracy where the model has several.
    public func evaluation(_ data: Dataset, batchSize: Int) throws -> EvaluationResult {
        var batch = data.makeBatch(batchSize: min(batchSize, max(data.count, 1)))
        var total = 0.0, weights = 0.0, correct = 0
        var outputSums = [Double](repeating: 0, count: data.targets.count)
        var outputCorrect = [Int](repeating: 0, count: data.targets.count)
        for start in stride(from: 0, to: data.count, by: batchSize) {
            let end = min(start + batchSize, data.count)
            data.batch(indices: start..<end, into: &batch)
            let outputs = try network.forward(inputs: batch.inputs, training: false)
            let evaluation = evaluateOutputs(outputs, targets: batch.targets)
            let penalty = network.hasRegularization ? network.regularizationPenalty() : 0
            let weight = reportWeight(batch: end - start)
            total += Double(evaluation.total + penalty) * weight
            weights += weight
            correct += evaluation.correct.first ?? 0
            for j in outputSums.indices {
                outputSums[j] += Double(evaluation.losses[j]) * weight
                outputCorrect[j] += evaluation.correct[j]
            }
        }
        let samples = Double(max(data.count, 1))
        return EvaluationResult(loss: weights > 0 ? total / weights : .nan, accuracy: Double(correct) / samples,
                                outputLosses: outputSums.map { weights > 0 ? $0 / weights : .nan },
                                outputAccuracies: outputCorrect.map { Double($0) / samples })
    }

    /// The model's outputs for its inputs (one tensor per input, in the model's order), in batches:
    /// one tensor per output.
    public func predict(inputs: [Tensor], batchSize: Int) throws -> [Tensor] {
        precondition(batchSize > 0 && !inputs.isEmpty)
        let count = inputs[0].shape.first ?? 0
        let batchSize = min(batchSize, max(count, 1))
        var out = network.outputShapes.map { shape -> [Float] in
            var values: [Float] = []
            values.reserveCapacity(count * shape.reduce(1, *))
            return values
        }
        for start in stride(from: 0, to: count, by: batchSize) {
            let end = min(start + batchSize, count)
            let batch = inputs.map { x in
                let width = x.shape.dropFirst().reduce(1, *)
                return Tensor(shape: [end - start] + x.shape.dropFirst(), data: Array(x.data[(start * width)..<(end * width)]))
            }
            for (k, output) in try network.forward(inputs: batch, training: false).enumerated() { out[k] += output.data }
        }
        return zip(network.outputShapes, out).map { Tensor(shape: [count] + $0, data: $1) }
    }
}

/// A pass of `Trainer.evaluation`: the total loss and the (first) output's accuracy as Keras's
/// `evaluate` reports them, and for a model with several outputs each output with a loss
/// (`ModelLoss.targetOutputs`), its unweighted loss and accuracy.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var outputLosses: [Double]
    public var outputAccuracies: [Double]
}
