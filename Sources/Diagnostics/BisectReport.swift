import Foundation
import KerasFile
import Training

/// `relapse bisect`: the epoch where a run's problem began, trained again batch by batch from
/// the checkpoint before it (bit for bit, as resume does), writing nothing.
public struct BisectReport {
    public var directory: String
    public var epoch: Int
    public var checkpoint: String
    public var batches: [BatchReport]
    /// Global batch numbers before the epoch (epoch e's batch b is batchesBefore + b).
    public var batchesBefore: Int64
    public var batchCount: Int
    public var replayedLoss: Double
    public var recordedLoss: Double?
    /// The best epoch loss before `epoch`, and the batch loss that counts as a spike.
    public var best: (epoch: Int, loss: Double)?
    public var threshold: Double?
    public var firstSpike: BatchReport?
    /// The first spiking batch, else the one with the largest loss.
    public var named: BatchReport?
    public var firstRMSAboveOne: BatchReport?
    public var largestGradient: BatchReport?

    public var identicalToRecorded: Bool? { recordedLoss.map { $0.bitPattern == replayedLoss.bitPattern } }

    public init(directory: String, epoch requested: Int?) throws {
        let scan = try RunScan(directory: directory)
        guard let target = requested ?? scan.firstProblemEpoch else {
            throw KerasFileError(directory, "shows no spike, sustained rise, NaN or explosion (give --epoch E)")
        }
        guard let before = scan.epochs.first(where: { $0.epoch == target - 1 && ($0.file as NSString).lastPathComponent.hasPrefix("epoch-") }) else {
            throw KerasFileError(directory, "has no checkpoint of epoch \(target - 1) (epoch-\(String(format: "%04d", target - 1)).h5) to replay epoch \(target) from")
        }
        self.directory = directory
        epoch = target
        checkpoint = before.file
        let run = try RunSetup.resume(checkpointPath: before.file, options: TrainingOptions())
        var reports: [BatchReport] = []
        let (result, batchesBefore) = try run.replayNextEpoch { reports.append($0) }
        batches = reports
        self.batchesBefore = batchesBefore
        batchCount = result.batches
        replayedLoss = result.loss
        recordedLoss = scan.history.first { $0.epoch == target }?.values["loss"]
        best = scan.history.filter { $0.epoch < target }.compactMap { row in row.values["loss"].map { (row.epoch, $0) } }
            .filter { $0.1.isFinite }.min { $0.1 < $1.1 }.map { (epoch: $0.0, loss: $0.1) }
        let spike = scan.rules.compactMap { $0 as? Spike }.first ?? Spike()
        threshold = best.map { max(spike.factor * $0.loss, $0.loss + spike.minimumRise) }
        firstSpike = threshold.flatMap { t in reports.first { !$0.loss.isFinite || $0.loss >= t } }
        named = firstSpike ?? reports.max { $0.loss < $1.loss || (!$1.loss.isFinite && $0.loss.isFinite) }
        firstRMSAboveOne = reports.first { ($0.signals.adamUpdateRMS ?? 0) > 1 }
        largestGradient = reports.max { $0.signals.gradNorm < $1.signals.gradNorm }
    }

    public func global(_ r: BatchReport) -> Int64 { batchesBefore + Int64(r.batch) }
    func maxRatio(_ r: BatchReport) -> Double? { r.signals.updateRatios.compactMap(\.ratio).max() }

    public func json() -> JSONValue {
        typealias F = ReportFormatting
        let list: [JSONValue] = batches.map { r in
            .object([("batch", .int(r.batch)), ("global_batch", .int(Int(global(r)))), ("loss", F.json(r.loss)),
                     ("grad_norm", F.json(r.signals.gradNorm)), ("adam_update_rms", F.json(r.signals.adamUpdateRMS)),
                     ("update_ratio_max", F.json(maxRatio(r))), ("indices", .array(r.indices.map { .int($0) }))])
        }
        return .object([
            ("run", .string(directory)), ("epoch", .int(epoch)), ("checkpoint", .string(checkpoint)),
            ("replayed_epoch_loss", F.json(replayedLoss)), ("recorded_epoch_loss", F.json(recordedLoss)),
            ("identical_to_recorded", identicalToRecorded.map { .bool($0) } ?? .null),
            ("reference_loss", F.json(best?.loss)), ("reference_epoch", F.json(best?.epoch)),
            ("spike_threshold", F.json(threshold)),
            ("first_spike_batch", F.json(firstSpike?.batch)),
            ("first_spike_global_batch", F.json(firstSpike.map { Int(global($0)) })),
            ("named_batch", F.json(named?.batch)),
            ("sample_indices", .array((named?.indices ?? []).map { .int($0) })),
            ("first_adam_rms_above_1_batch", F.json(firstRMSAboveOne?.batch)),
            ("largest_grad_norm_batch", F.json(largestGradient?.batch)),
            ("batches", .array(list)),
        ])
    }

    public func text(all: Bool) -> String {
        typealias F = ReportFormatting
        var lines = ["Bisect of \(directory), epoch \(epoch), replayed from \(checkpoint): \(batches.count) batches trained (global batches \(batchesBefore + 1) to \(batchesBefore + Int64(batchCount)))"]
        lines.append("Replayed epoch loss \(F.number(replayedLoss)); recorded \(F.number(recordedLoss))"
                     + (identicalToRecorded.map { $0 ? " (bit for bit)" : " (DIFFERENT: the replay does not reproduce the run)" } ?? ""))
        if let best, let threshold {
            lines.append("Best loss before epoch \(epoch): \(F.number(best.loss)) (epoch \(best.epoch)); a batch spikes at loss >= \(F.number(threshold)) (the spike rule)")
        }
        lines.append("")
        let window: [BatchReport]
        if all || named == nil {
            window = batches
        } else {
            let at = batches.firstIndex { $0.batch == named!.batch }!
            window = Array(batches[max(0, at - 8)...min(batches.count - 1, at + 8)])
        }
        let rows = window.map { r in
            [String(r.batch), String(global(r)), F.number(r.loss), F.number(r.signals.gradNorm),
             F.number(r.signals.adamUpdateRMS), F.number(maxRatio(r)), r.batch == named?.batch ? "<-" : ""]
        }
        lines += F.table(["batch", "global", "loss", "grad_norm", "adam_update_rms", "max update ratio", ""], rows, right: [1, 2, 3, 4, 5])
        lines.append("")
        if let r = firstSpike {
            lines.append("First spiking batch: \(r.batch) of epoch \(epoch) (global batch \(global(r))): loss \(F.number(r.loss)), grad_norm \(F.number(r.signals.gradNorm)), Adam update RMS \(F.number(r.signals.adamUpdateRMS))")
        } else if let r = named {
            lines.append("No single batch reached the spike threshold; the largest batch loss: batch \(r.batch) (global batch \(global(r))): \(F.number(r.loss))")
        }
        if let r = named {
            lines.append("Its \(r.indices.count) samples (indices into the training data, in batch order): " + r.indices.map(String.init).joined(separator: " "))
        }
        if let r = firstRMSAboveOne { lines.append("First batch with Adam update RMS > 1: \(r.batch) (\(F.number(r.signals.adamUpdateRMS)))") }
        if let r = largestGradient { lines.append("Largest gradient norm: batch \(r.batch) (\(F.number(r.signals.gradNorm)))") }
        if let r = named {
            lines.append("Replay without this epoch's batches up to it: relapse replay \(directory) --from \(epoch - 1) --try \"--skip-batches \(batchesBefore + 1):\(global(r))\"")
        }
        return lines.joined(separator: "\n")
    }
}
