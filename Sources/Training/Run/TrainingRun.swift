import Foundation
import KerasFile
import Kernels
import Network

/// A training run: epochs over the data, a checkpoint per epoch, `best.h5`, `history.csv`.
/// Everything that decides what happens next lives in `state`, the network and the optimizer,
/// so a run rebuilt from a checkpoint continues bit for bit.
public final class TrainingRun {
    public let template: KerasModel
    public let trainer: Trainer
    public private(set) var state: RunState
    public let training: Dataset
    public let validation: Dataset?
    var shuffleGenerator: SeededGenerator
    /// The format of checkpoints and `best.*`: by default that of the file the run started from.
    public var checkpointFormat: ModelFileFormat
    /// The first samples of the training data (up to 256, in data order): the fixed batch whose
    /// ReLU outputs give `dead_fraction/<layer>` each epoch, in chunks of at most a training batch.
    lazy var referenceBatch: [[Tensor]]? = {
        guard training.count > 0, !trainer.network.reluOutputs.isEmpty else { return nil }
        let samples = min(256, training.count), chunk = max(1, min(state.batchSize, samples))
        return stride(from: 0, to: samples, by: chunk).map {
            training.batchTensors(indices: $0..<min(samples, $0 + chunk)).inputs
        }
    }()
    /// `chance_loss` in history.csv: a constant predictor's loss on the training data.
    lazy var chanceLoss: Double? = ChanceLoss.of(trainer.losses, semantics: trainer.semantics, targets: training.targets,
                                                 outputWidths: trainer.losses.targetOutputs.map { trainer.network.outputShapes[$0].last ?? 1 })

    public init(template: KerasModel, trainer: Trainer, state: RunState, training: Dataset, validation: Dataset?) throws {
        self.template = template
        self.trainer = trainer
        self.state = state
        self.training = training
        self.validation = validation
        checkpointFormat = template.format == .keras ? .keras : .h5
        guard state.batchSize > 0 else { throw RunSetupError("records a batch size of \(state.batchSize); it must be positive") }
        try Trainer.checkBatchFits(network: trainer.network, batchSize: state.batchSize, samples: training.count)
        shuffleGenerator = try SeededGenerator(hexState: state.shuffleGenerator, what: "shuffle")
        trainer.network.dropoutGenerator = try SeededGenerator(hexState: state.dropoutGenerator, what: "dropout")
        if let layerState = state.layerState { try trainer.network.setLayerState(layerState) }
    }

    public struct Summary: Sendable {
        public var epochsDone: Int
        public var lastCheckpoint: String?
        public var imagesPerSecond: Double
        public var interrupted: Bool
        /// Where a NaN/Inf loss first appeared (epoch, batch), when it did.
        public var nonFinite: (epoch: Int, batch: Int)?
        /// With stop-on-NaN mid-epoch: the file holding the state right after the bad batch.
        public var stoppedState: String?
        /// The symptom `stopOn` named that ended the run (after its epoch's checkpoint).
        public var stoppedOnSymptom: SymptomFinding?
    }

    /// Trains `epochs` more epochs, writing checkpoints into `directory`, which this process
    /// holds (locked) until it returns. `start` says what the folder may hold (by default:
    /// this run's own checkpoints up to its current epoch, nothing later); `overwrite` clears
    /// what is in the way instead of refusing (`CheckpointFolder`); `branch`, for a resume into
    /// another folder, is recorded there as `branch.json`.
    /// The largest epoch number a run may reach (`--epochs` and `--initial-epoch` are checked
    /// against it): checkpoint names have room for it, and no count overflows.
    public static let maxEpoch = 999_999

    public func run(epochs: Int, directory: String, start: CheckpointFolder.Start? = nil, overwrite: Bool = false,
                    branch: BranchRecord? = nil, saveEvery: Int = 1, stopOnNonFinite: Bool = false,
                    stopOn: Set<String> = [], reporter: ProgressReporter? = nil,
                    shouldStop: () -> Bool = { StopRequest.isRequested }) throws -> Summary {
        // Epoch numbers stay in 0...maxEpoch: a recorded epoch of 2^63 - 1 (or a negative one,
        // which named a checkpoint epoch--002.h5) is refused before the folder is touched.
        guard epochs > 0, state.epoch >= 0, state.epoch <= TrainingRun.maxEpoch - epochs else {
            throw DataError(directory, "epochs \(state.epoch) + \(epochs) are out of range: epoch numbers go from 1 to \(TrainingRun.maxEpoch)")
        }
        let folder = try CheckpointFolder.open(directory, start: start ?? .continuing(epoch: state.epoch, bestEpoch: state.bestEpoch),
                                               overwrite: overwrite)
        defer { withExtendedLifetime(folder) {} }
        try branch?.write(in: directory)
        if overwrite, case .continuing = start ?? .newRun, FileManager.default.fileExists(atPath: directory + "/history.csv") {
            // The replaced epochs' rows go now, not only when the next epoch ends.
            try HistoryCSV.write(state.history, to: directory + "/history.csv")
        }
        let first = state.epoch + 1
        let last = state.epoch + epochs
        var summary = Summary(epochsDone: 0, lastCheckpoint: nil, imagesPerSecond: 0, interrupted: false)
        var trainedSamples = 0
        var trainingSeconds = 0.0
        for epoch in first...max(first, last) where epoch <= last {
            reporter?.epochStarted(epoch, last: last)
            var order = Array(0..<training.count)
            if state.shuffle { shuffleGenerator.shuffle(&order) }
            let start = Date()
            let batchesBefore = state.globalStep
            let result = try trainer.trainEpoch(
                training, order: order, batchSize: state.batchSize, stopOnNonFinite: stopOnNonFinite,
                skip: { [state] in state.skips(batch: batchesBefore + Int64($0)) }, shouldStop: shouldStop,
                progress: { reporter?.batchFinished($0, elapsed: Date().timeIntervalSince(start)) })
            let seconds = Date().timeIntervalSince(start)
            trainedSamples += result.samples
            trainingSeconds += seconds
            if let batch = result.firstNonFiniteBatch, summary.nonFinite == nil { summary.nonFinite = (epoch, batch) }
            if result.interrupted {
                if stopOnNonFinite, let batch = result.firstNonFiniteBatch {
                    summary.stoppedState = try saveStoppedState(epoch: epoch, batch: batch, directory: directory)
                } else {
                    summary.interrupted = true
                }
                break
            }
            var values = trainer.losses.historyValues(loss: result.loss, accuracy: result.accuracy, outputLosses: result.outputLosses,
                                                      outputAccuracies: result.outputAccuracies, semantics: trainer.semantics)
            values.merge(result.signals.merging(try trainer.epochEndSignals(reference: referenceBatch)) { a, _ in a }) { a, _ in a }
            if let chanceLoss { values["chance_loss"] = chanceLoss }
            if let validation {
                let evaluated = try trainer.evaluation(validation, batchSize: state.batchSize)
                let validationValues = trainer.losses.historyValues(loss: evaluated.loss, accuracy: evaluated.accuracy,
                                                                    outputLosses: evaluated.outputLosses,
                                                                    outputAccuracies: evaluated.outputAccuracies, semantics: trainer.semantics)
                for (key, value) in validationValues { values["val_" + key] = value }
            }
            let row = HistoryRow(epoch: epoch, values: values)
            state.epoch = epoch
            state.globalStep += Int64(result.batches)
            state.history.append(row)
            state.shuffleGenerator = shuffleGenerator.hexState
            state.dropoutGenerator = trainer.network.dropoutGenerator.hexState
            let layerState = trainer.network.layerState
            state.layerState = layerState.isEmpty ? nil : layerState
            let monitored = values[state.bestMonitor] ?? .nan
            let improved = monitored.isFinite && (state.bestValue.map { monitored < $0 } ?? true)
            if improved {
                state.bestValue = monitored
                state.bestEpoch = epoch
            }
            // A symptom named by stopOn ends the run after this epoch, whose checkpoint is then always written.
            let stopHit = stopOn.isEmpty ? nil : Symptoms.all.filter { stopOn.contains($0.name) }
                .lazy.compactMap { rule in rule.check(self.state.history[...]).map { SymptomFinding(symptom: rule.name, epoch: epoch, detail: $0) } }
                .first
            let model = try Checkpoint.model(template: template, trainer: trainer, state: state, loss: state.loss)
            var saved: String?
            if epoch % max(saveEvery, 1) == 0 || epoch == last || stopOnNonFinite && summary.nonFinite != nil || stopHit != nil {
                saved = directory + "/" + Self.checkpointName(epoch, format: checkpointFormat)
                try model.write(to: saved!)
                summary.lastCheckpoint = saved
            }
            if improved { try model.write(to: directory + "/best." + checkpointFormat.fileExtension) }
            try HistoryCSV.write(state.history, to: directory + "/history.csv")
            summary.epochsDone += 1
            reporter?.epochFinished(row, seconds: seconds, checkpoint: saved)
            // Each symptom gets a line when it starts (docs/DIAGNOSIS.md); one named by stopOn ends the run.
            let onsets = Symptoms.onsets(state.history)
            for finding in onsets { reporter?.note("symptom: \(finding.symptom) from epoch \(epoch): \(finding.detail)") }
            if let stopHit {
                summary.stoppedOnSymptom = stopHit
                break
            }
            if stopOnNonFinite, summary.nonFinite != nil { break }
        }
        summary.imagesPerSecond = trainingSeconds > 0 ? Double(trainedSamples) / trainingSeconds : 0
        return summary
    }

    /// The next epoch exactly as `run` would train it (same shuffle, same skipped batches),
    /// reporting every batch, and writing nothing: `relapse bisect`. The run's state does not
    /// advance (the network and optimizer do), so call it once per rebuilt run.
    public func replayNextEpoch(observe: (BatchReport) -> Void) throws -> (result: EpochResult, batchesBefore: Int64) {
        var generator = shuffleGenerator
        var order = Array(0..<training.count)
        if state.shuffle { generator.shuffle(&order) }
        let batchesBefore = state.globalStep
        let result = try withoutActuallyEscaping(observe) { observe in
            try trainer.trainEpoch(training, order: order, batchSize: state.batchSize,
                                   skip: { [state] in state.skips(batch: batchesBefore + Int64($0)) }, observe: observe)
        }
        return (result, batchesBefore)
    }

    /// `epoch-0001.h5`: Keras ModelCheckpoint's `epoch-{epoch:04d}.h5` (`.keras` in that format).
    public static func checkpointName(_ epoch: Int, format: ModelFileFormat = .h5) -> String {
        "epoch-" + String(format: "%04d", epoch) + "." + format.fileExtension
    }
}
