import Kernels

/// The result of one pass over the training data, as Keras's history reports it.
public struct EpochResult: Sendable {
    /// Keras's epoch loss: the sample-weighted mean of the batch losses.
    public var loss: Double
    public var accuracy: Double
    public var batches: Int
    public var samples: Int
    /// True when the pass stopped early (Ctrl-C, or a NaN loss with stop-on-NaN).
    public var interrupted: Bool
    /// The first batch whose loss was NaN or infinite, if any.
    public var firstNonFiniteBatch: Int?
    /// Per-epoch training signals for history.csv (gradient norm, saturation; see BatchSignals).
    public var signals: [String: Double] = [:]
    /// A model with several outputs: for each output with a loss (`ModelLoss.targetOutputs`), its
    /// epoch loss before its weight (averaged as `loss` is) and its accuracy.
    public var outputLosses: [Double] = []
    public var outputAccuracies: [Double] = []
}

/// Progress after each batch, for a Keras-like progress bar.
public struct BatchProgress: Sendable {
    public var batch: Int
    public var batches: Int
    public var samplesDone: Int
    public var runningLoss: Double
}

/// One trained batch as `relapse bisect` reports it: where it sits, which samples it held,
/// its loss and the step's signals.
public struct BatchReport: Sendable {
    /// 1-based within the epoch.
    public var batch: Int
    /// The samples' indices in the training data (after any validation split), in batch order.
    public var indices: [Int]
    public var loss: Double
    public var signals: BatchSignalValues
}

extension Trainer {
    /// Trains one epoch over `data` in the sample order `order`.
    /// - Parameters:
    ///   - shouldStop: asked before each batch; true ends the epoch early (marked interrupted).
    ///   - stopOnNonFinite: end the epoch after the first batch whose loss is NaN or infinite.
    ///   - skip: asked with each batch's 1-based number in the epoch; true passes over its samples
    ///     without a step (`--skip-batches`). Skipped batches count in `batches`, not in the loss.
    ///   - observe: called after each trained batch with what it did (`relapse bisect`).
    ///   - reference: a fixed batch whose ReLU outputs give the dead-unit shares (epoch end).
    public func trainEpoch(_ data: Dataset, order: [Int], batchSize: Int, stopOnNonFinite: Bool = false,
                           skip: (Int) -> Bool = { _ in false },
                           shouldStop: () -> Bool = { false },
                           progress: (BatchProgress) -> Void = { _ in },
                           observe: ((BatchReport) -> Void)? = nil) throws -> EpochResult {
        precondition(batchSize > 0)
        // A batch larger than the data is the whole data (as in Keras); 2^63 - 1 overflowed below.
        let batchSize = min(batchSize, max(order.count, 1))
        let batches = (order.count + batchSize - 1) / batchSize
        var tensors = data.makeBatch(batchSize: min(batchSize, max(order.count, 1)))
        var lossSum = 0.0, lossWeights = 0.0, samples = 0, correct = 0
        var outputSums = [Double](repeating: 0, count: data.targets.count)
        var outputCorrect = [Int](repeating: 0, count: data.targets.count)
        var firstNonFinite: Int?
        var interrupted = false
        var signals = BatchSignals()
        // The update ratios and Adam's update RMS read every weight twice more per step (a tenth
        // of the seed model's step): they are measured on every fourth step of the epoch (its
        // first included), and on every step when a caller observes each batch (bisect).
        let measureEvery = observe == nil ? BatchSignals.measureEvery : 1
        for batch in 0..<batches {
            if shouldStop() { interrupted = true; break }
            if skip(batch + 1) { continue }
            let indices = order[(batch * batchSize)..<min((batch + 1) * batchSize, order.count)]
            data.batch(indices: indices, into: &tensors)
            let measure = batch % measureEvery == 0
            if measure { signals.beforeStep(network) }
            let result = try step(tensors)
            signals.record(network, optimizer: optimizer, measureUpdates: measure)
            lossSum += Double(result.loss) * result.reportWeight
            lossWeights += result.reportWeight
            samples += result.count
            correct += result.correct
            for (j, value) in result.outputLosses.enumerated() {
                outputSums[j] += Double(value) * result.reportWeight
                outputCorrect[j] += result.outputCorrect[j]
            }
            if let observe, let values = signals.last {
                observe(BatchReport(batch: batch + 1, indices: Array(indices), loss: Double(result.loss), signals: values))
            }
            progress(BatchProgress(batch: batch + 1, batches: batches, samplesDone: samples, runningLoss: lossSum / lossWeights))
            if !result.loss.isFinite, firstNonFinite == nil {
                firstNonFinite = batch + 1
                if stopOnNonFinite { interrupted = batch + 1 < batches; break }
            }
        }
        var result = EpochResult(loss: samples > 0 ? lossSum / lossWeights : .nan,
                                 accuracy: samples > 0 ? Double(correct) / Double(samples) : .nan,
                                 batches: batches, samples: samples, interrupted: interrupted,
                                 firstNonFiniteBatch: firstNonFinite, signals: signals.values)
        if case .perOutput = losses {
            result.outputLosses = outputSums.map { samples > 0 ? $0 / lossWeights : .nan }
            result.outputAccuracies = outputCorrect.map { samples > 0 ? Double($0) / Double(samples) : .nan }
        }
        return result
    }
}
