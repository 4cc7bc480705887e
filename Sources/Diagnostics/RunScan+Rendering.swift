import Foundation
import KerasFile
import Training

extension RunScan {
    /// A table per checkpoint, then what went wrong first and where to resume from.
    public func text() -> String {
        typealias F = ReportFormatting
        let layers = epochs.first?.layerNorms.map(\.layer) ?? []
        // Per-layer columns only while they fit a terminal; JSON and --plot always have them all.
        let shownLayers = layers.count <= 6 ? layers : []
        let header = ["Epoch", "File", "loss", "val_loss", "||W||"] + shownLayers.map { "||\($0)||" }
            + ["NaN/Inf", "max update ratio", "sqrt(v^) p1", "largest growth", "Flags"]
        let rows = epochs.map { e -> [String] in
            let norms = Dictionary(e.layerNorms.map { ($0.layer, $0.norm) }, uniquingKeysWith: { a, _ in a })
            let growth = e.largestGrowth.map { "\($0.tensor) x\(F.number($0.ratio))" } ?? "-"
            return [String(e.epoch), (e.file as NSString).lastPathComponent, F.number(e.loss), F.number(e.valLoss),
                    F.number(e.weightNorm)] + shownLayers.map { F.number(norms[$0]) }
                + ["\(e.nanCount)/\(e.infCount)", F.number(e.adamMaxUpdateRatio), F.number(e.adamSqrtVHatP1), growth,
                   e.flags.joined(separator: ",")]
        }
        let numeric = Set(2..<(5 + shownLayers.count)).union([5 + shownLayers.count + 1, 5 + shownLayers.count + 2])
        var lines = ["Run: \(directory) (\(epochs.count) checkpoints, \(history.count) epochs of history)"]
        if let branch {
            let changes = branch.changes.isEmpty ? "no changes" : branch.changes.joined(separator: "; ")
            lines.append("Branch of \(branch.parent) at epoch \(branch.epoch) (\(changes)); history up to epoch \(branch.epoch) is the parent's, and epoch \(branch.epoch + 1)'s growth is measured against it")
        }
        if !branches.isEmpty {
            lines.append("Branches (scanned separately): " + branches.map { "\($0.folder) (from epoch \($0.record.epoch))" }.joined(separator: ", "))
        }
        lines.append("")
        lines += F.table(header, rows, right: numeric)
        lines.append("")
        for (file, reason) in unreadable { lines.append("Unreadable: \(file): \(reason)") }
        lines.append("First loss jump:  " + describeJump())
        lines.append("First NaN/Inf:    " + (firstNaNEpoch.map { "epoch \($0)" } ?? "none"))
        lines.append("First explosion:  " + describeExplosion())
        if symptoms.isEmpty {
            lines.append("Symptoms:         none of the \(Symptoms.all.count) rules held (docs/DIAGNOSIS.md)")
        } else {
            lines.append("Symptoms (docs/DIAGNOSIS.md; epochs where each rule held, and what it said first):")
            let width = symptoms.map(\.name.count).max() ?? 0
            for symptom in symptoms {
                lines.append("  " + symptom.name.padding(toLength: width, withPad: " ", startingAt: 0)
                             + "  epochs \(symptom.epochRanges): \(symptom.firstDetail)")
            }
        }
        lines += signalsBeforeProblem()
        if let healthy = lastHealthy {
            lines.append("Last healthy:     epoch \(healthy.epoch), \(healthy.file)")
            if verdict != .ok { lines.append("Resume from it:   relapse resume \(healthy.file) --epochs N [--epsilon ... | --loss ... | --optimizer ...]") }
        } else {
            lines.append("Last healthy:     none (the first checkpoint is already past the first problem)")
        }
        lines.append("Verdict: \(verdict.rawValue)")
        return lines.joined(separator: "\n")
    }

    /// The signals the symptom rules read, from the last healthy epoch to two epochs past the
    /// first problem: what the run said on its way into it (history.csv has them all).
    func signalsBeforeProblem() -> [String] {
        typealias F = ReportFormatting
        guard let problem = firstProblemEpoch, let healthy = lastHealthy?.epoch else { return [] }
        let rows = history.filter { $0.epoch >= healthy && $0.epoch <= problem + 2 }
        let keys = ["loss", "grad_norm", "grad_norm_max", "adam_update_rms", "adam_update_rms_max", "adam_max_update_ratio",
                    "adam_sqrt_vhat_p1", "adam_eps_dominated", "saturated_fraction", "weight_norm"]
            .filter { key in rows.contains { $0.values[key] != nil } }
        guard rows.count > 1, !keys.isEmpty else { return [] }
        var lines = ["Signals from the last healthy epoch into the first problem (epoch \(problem)):"]
        let ratioKeys = Set(rows.flatMap { $0.values.keys.filter { $0.hasPrefix("update_ratio/") } })
        let table = rows.map { row -> [String] in
            let largestRatio = ratioKeys.compactMap { row.values[$0] }.max()
            return [String(row.epoch)] + keys.map { F.number(row.values[$0]) } + (ratioKeys.isEmpty ? [] : [F.number(largestRatio)])
        }
        let header = ["epoch"] + keys + (ratioKeys.isEmpty ? [] : ["max update_ratio"])
        lines += F.table(header, table, right: Set(1..<header.count)).map { "  " + $0 }
        return lines
    }

    private func describeJump() -> String {
        guard let epoch = firstJumpEpoch else { return "none (no loss \(ReportFormatting.number(options.jumpFactor))x the best so far)" }
        let loss = history.first { $0.epoch == epoch }?.values["loss"]
        let earlier = history.filter { $0.epoch < epoch }.compactMap { row in row.values["loss"].map { (row.epoch, $0) } }
            .filter { $0.1.isFinite }
        let best = earlier.min { $0.1 < $1.1 }
        return "epoch \(epoch) (loss \(ReportFormatting.number(loss))"
            + (best.map { ", best so far \(ReportFormatting.number($0.1)) at epoch \($0.0))" } ?? ")")
    }

    private func describeExplosion() -> String {
        guard let epoch = firstExplosionEpoch, let e = epochs.first(where: { $0.epoch == epoch }) else { return "none" }
        let growth = e.largestGrowth.map { ": \($0.tensor) norm x\(ReportFormatting.number($0.ratio)) over the previous checkpoint" } ?? ""
        return "epoch \(epoch)\(growth)"
    }

    /// One JSON object with the `first_*` and `last_healthy_epoch` keys beside `epochs`.
    public func json() -> JSONValue {
        typealias F = ReportFormatting
        let entries: [JSONValue] = epochs.map { e in
            .object([
                ("epoch", .int(e.epoch)), ("file", .string(e.file)),
                ("loss", F.json(e.loss)), ("val_loss", F.json(e.valLoss)),
                ("weight_norm", F.json(e.weightNorm)),
                ("layer_norms", .object(e.layerNorms.map { ($0.layer, F.json($0.norm)) })),
                ("nan", .int(e.nanCount)), ("inf", .int(e.infCount)),
                ("adam_max_update_ratio", F.json(e.adamMaxUpdateRatio)),
                ("adam_min_sqrt_v_hat", F.json(e.adamMinSqrtVHat)),
                ("adam_sqrt_v_hat_p1", F.json(e.adamSqrtVHatP1)),
                ("largest_growth", e.largestGrowth.map { .object([("tensor", .string($0.tensor)), ("norm_ratio", F.json($0.ratio))]) } ?? .null),
                ("flags", .array(e.flags.map { .string($0) })),
            ])
        }
        return .object([
            ("verdict", .string(verdict.rawValue)), ("directory", .string(directory)),
            ("branch_of", branch.map { .object([("parent", .string($0.parent)), ("epoch", .int($0.epoch)),
                                                ("changes", .array($0.changes.map { .string($0) }))]) } ?? .null),
            ("branches", .array(branches.map { .object([("folder", .string($0.folder)), ("epoch", .int($0.record.epoch))]) })),
            ("first_jump_epoch", F.json(firstJumpEpoch)), ("first_nan_epoch", F.json(firstNaNEpoch)),
            ("first_explosion_epoch", F.json(firstExplosionEpoch)),
            ("last_healthy_epoch", F.json(lastHealthy?.epoch)),
            ("first_problem_epoch", F.json(firstProblemEpoch)),
            ("signals", .array(history.map { row in
                .object([("epoch", .int(row.epoch))] + row.values.keys.sorted().map { ($0, F.json(row.values[$0])) })
            })),
            ("symptoms", .array(symptoms.map { symptom in
                .object([("name", .string(symptom.name)), ("first_epoch", .int(symptom.firstEpoch)),
                         ("epochs", .array(symptom.epochs.map { .int($0) })), ("first_detail", .string(symptom.firstDetail)),
                         ("definition", .string(symptom.definition)), ("source", .string(symptom.source))])
            })),
            ("last_healthy_file", lastHealthy.map { .string($0.file) } ?? .null),
            ("history", .array(history.map { row in
                .object([("epoch", .int(row.epoch)), ("loss", F.json(row.values["loss"])), ("val_loss", F.json(row.values["val_loss"]))])
            })),
            ("epochs", .array(entries)),
            ("unreadable", .array(unreadable.map { .object([("file", .string($0.file)), ("reason", .string($0.reason))]) })),
        ])
    }
}
