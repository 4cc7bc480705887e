import Foundation
import KerasFile
import Training

/// `relapse replay`: branches resumed from one checkpoint of a run (a control without changes,
/// and one per set of flags tried), each judged by the same symptom rule as the original.
public struct ReplayReport: Sendable {
    public struct Branch: Sendable {
        public var name: String
        /// The flags given to `resume` (empty for the control).
        public var flags: [String]
        public var directory: String
        public var isControl: Bool
        /// Whether the symptom held at some epoch after the fork.
        public var recurred: Bool
        public var firstSymptomEpoch: Int?
        public var firstSymptomDetail: String?
        /// Control only: every checkpoint both runs hold is bit for bit the same (weights and
        /// optimizer state), and so is every loss in their histories.
        public var identicalToOriginal: Bool?
        /// Control only: how many checkpoints were compared, and the first that differs.
        public var comparedCheckpoints = 0
        public var firstDifferentEpoch: Int?
        /// The branch's own epochs (after the fork).
        public var rows: [HistoryRow]
        /// The `resume` process's exit status and its last error line, when it failed.
        public var exitStatus: Int32 = 0
        public var failure: String?

        public var minLoss: Double? { rows.compactMap { $0.values["loss"] }.filter(\.isFinite).min() }
        public var finalLoss: Double? { rows.last?.values["loss"] }
        public var minValLoss: Double? { rows.compactMap { $0.values["val_loss"] }.filter(\.isFinite).min() }
        public var finalValLoss: Double? { rows.last?.values["val_loss"] }
    }

    public var run: String
    public var fromEpoch: Int
    public var epochs: Int
    /// The symptom judged, and where the original run first showed it after the fork.
    public var symptom: String
    public var originalSymptomEpoch: Int?
    public var original: Branch
    public var branches: [Branch]

    public init(run: String, fromEpoch: Int, epochs: Int, symptom: String, originalSymptomEpoch: Int?,
                original: Branch, branches: [Branch]) {
        self.run = run
        self.fromEpoch = fromEpoch
        self.epochs = epochs
        self.symptom = symptom
        self.originalSymptomEpoch = originalSymptomEpoch
        self.original = original
        self.branches = branches
    }

    /// Judges a run folder's history (the parent's rows up to the fork included, as a branch
    /// carries them) with `rule` after epoch `from`.
    public static func judge(name: String, flags: [String], directory: String, isControl: Bool, rule: any SymptomRule,
                             from: Int, through last: Int? = nil) -> Branch {
        var history = RunHistory.read(directory: directory)
        if let last { history = history.filter { $0.epoch <= last } }
        let findings = Symptoms.evaluate(history, rules: [rule]).filter { $0.epoch > from }
        return Branch(name: name, flags: flags, directory: directory, isControl: isControl,
                      recurred: !findings.isEmpty, firstSymptomEpoch: findings.first?.epoch,
                      firstSymptomDetail: findings.first?.detail, identicalToOriginal: nil,
                      rows: history.filter { $0.epoch > from }.sorted { $0.epoch < $1.epoch })
    }

    /// Compares the control's checkpoints and losses with the original's, epoch by epoch.
    public static func compare(control: inout Branch, original: String) {
        var compared = 0
        var firstDifferent: Int?
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: control.directory)) ?? [])
            .filter { CheckpointName.epoch(of: $0) != nil && $0.hasPrefix("epoch-") && !$0.contains("-nan-") }.sorted()
        for name in names {
            guard let epoch = CheckpointName.epoch(of: name),
                  FileManager.default.fileExists(atPath: original + "/" + name) else { continue }
            compared += 1
            let same = (try? identical(control.directory + "/" + name, original + "/" + name)) ?? false
            if !same, firstDifferent.map({ epoch < $0 }) ?? true { firstDifferent = epoch }
        }
        let originalRows = Dictionary(RunHistory.read(directory: original).map { ($0.epoch, $0) }, uniquingKeysWith: { _, b in b })
        for row in control.rows {
            guard let theirs = originalRows[row.epoch]?.values["loss"], let ours = row.values["loss"] else { continue }
            if theirs.bitPattern != ours.bitPattern, firstDifferent.map({ row.epoch < $0 }) ?? true { firstDifferent = row.epoch }
        }
        control.comparedCheckpoints = compared
        control.firstDifferentEpoch = firstDifferent
        control.identicalToOriginal = compared > 0 && firstDifferent == nil
    }

    /// Weights and optimizer state bit for bit (layer names, weight names, bytes).
    public static func identical(_ a: String, _ b: String) throws -> Bool {
        let x = try KerasModelFile.read(a), y = try KerasModelFile.read(b)
        return x.layerWeights == y.layerWeights && x.optimizerWeights == y.optimizerWeights
    }

    /// Exit status: 0 when the replay ran, 1 when the control did not reproduce the original.
    public var exitStatus: Int32 {
        branches.first { $0.isControl }?.identicalToOriginal == false ? 1 : 0
    }
}

extension ReplayReport {
    public func text() -> String {
        typealias F = ReportFormatting
        var lines = ["Replay of \(run) from epoch \(fromEpoch), \(epochs) epochs per branch (to epoch \(fromEpoch + epochs))"]
        lines.append("Symptom judged: \(symptom) (\(Symptoms.rule(named: symptom)?.definition ?? "")); the original shows it first at "
                     + (originalSymptomEpoch.map { "epoch \($0)" } ?? "no epoch after \(fromEpoch)"))
        lines.append("")
        let header = ["Branch", "Flags", "Recurred", "First symptom", "Same as original", "min loss", "final loss",
                      "min val_loss", "final val_loss", "Folder"]
        let rows = ([original] + branches).map { b -> [String] in
            let same: String
            if let identical = b.identicalToOriginal {
                same = identical ? "bit for bit (\(b.comparedCheckpoints) checkpoints)"
                    : "no: differs from epoch \(b.firstDifferentEpoch.map(String.init) ?? "?")"
            } else {
                same = "-"
            }
            return [b.name, b.flags.isEmpty ? "-" : b.flags.joined(separator: " "),
                    b.exitStatus != 0 ? "failed" : (b.recurred ? "yes" : "no"),
                    b.firstSymptomEpoch.map { "epoch \($0)" } ?? "-", same,
                    F.number(b.minLoss), F.number(b.finalLoss), F.number(b.minValLoss), F.number(b.finalValLoss),
                    b.directory]
        }
        lines += F.table(header, rows, right: [5, 6, 7, 8])
        for b in [original] + branches {
            if let detail = b.firstSymptomDetail { lines.append("\(b.name): epoch \(b.firstSymptomEpoch!): \(detail)") }
            if let failure = b.failure { lines.append("\(b.name): resume failed (exit \(b.exitStatus)): \(failure)") }
        }
        if let control = branches.first(where: \.isControl) {
            switch control.identicalToOriginal {
            case true?: lines.append("Control: reproduces the original bit for bit.")
            case false?: lines.append("Control: does NOT reproduce the original" + (control.comparedCheckpoints == 0
                                        ? " (no checkpoint of the same epoch to compare)." : "; differences start at epoch \(control.firstDifferentEpoch.map(String.init) ?? "?")."))
            case nil: break
            }
        }
        return lines.joined(separator: "\n")
    }

    public func json() -> JSONValue {
        typealias F = ReportFormatting
        func entry(_ b: Branch) -> JSONValue {
            .object([
                ("name", .string(b.name)), ("flags", .string(b.flags.joined(separator: " "))),
                ("recurred", .bool(b.recurred)), ("first_symptom_epoch", F.json(b.firstSymptomEpoch)),
                ("first_symptom_detail", b.firstSymptomDetail.map { .string($0) } ?? .null),
                ("identical_to_original", b.identicalToOriginal.map { .bool($0) } ?? .null),
                ("min_loss", F.json(b.minLoss)), ("final_loss", F.json(b.finalLoss)),
                ("min_val_loss", F.json(b.minValLoss)), ("final_val_loss", F.json(b.finalValLoss)),
                ("dir", .string(b.directory)), ("exit_status", .int(Int(b.exitStatus))),
                ("losses", .array(b.rows.map { row in
                    .object([("epoch", .int(row.epoch)), ("loss", F.json(row.values["loss"])), ("val_loss", F.json(row.values["val_loss"]))])
                })),
            ])
        }
        return .object([
            ("run", .string(run)), ("from_epoch", .int(fromEpoch)), ("epochs", .int(epochs)),
            ("symptom", .string(symptom)), ("original_symptom_epoch", F.json(originalSymptomEpoch)),
            ("original", entry(original)),
            ("branches", .array(branches.map(entry))),
        ])
    }

    /// The branches' loss curves over the original's, on a log scale, the fork and the
    /// original's symptom marked.
    public func svg() -> String {
        // Every curve starts at the fork, where all share the original's loss.
        let fork = RunHistory.read(directory: run).first { $0.epoch == fromEpoch }?.values["loss"].map { [(fromEpoch, $0)] } ?? []
        func points(_ b: Branch) -> [(epoch: Int, value: Double)] {
            fork + b.rows.compactMap { r in r.values["loss"].map { (r.epoch, $0) } }
        }
        var series = [RunPlot.Series(name: "original", points: points(original))]
        for b in branches { series.append(RunPlot.Series(name: b.name, points: points(b))) }
        var markers: [(String, Int, String)] = [("fork: epoch \(fromEpoch)", fromEpoch, "#555555")]
        if let e = originalSymptomEpoch { markers.append(("original \(symptom): epoch \(e)", e, "#d62728")) }
        return RunPlot.overlay(title: "relapse replay: \(run) from epoch \(fromEpoch)", panelTitle: "loss per branch (log scale)",
                               series: series, markers: markers, firstEpoch: fromEpoch)
    }
}
