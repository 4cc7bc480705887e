import Foundation

/// A named symptom of a training run, judged from its per-epoch history (`history.csv` rows):
/// one small type per rule, each with its definition and the tool or paper it follows
/// (docs/DIAGNOSIS.md). `relapse scan`, live training (`train`/`resume`: a line when one starts,
/// `--stop-on NAME`) and `relapse replay` all use these same rules.
public protocol SymptomRule: Sendable {
    /// The name `--stop-on`, `scan` and `replay` use ("spike").
    var name: String { get }
    /// What the rule checks, in one line with its thresholds.
    var definition: String { get }
    /// Where the rule and its thresholds come from.
    var source: String { get }
    /// Whether the symptom holds at the last row of `history` (the rows up to and including the
    /// epoch judged, in epoch order); if so, why, with the numbers.
    func check(_ history: ArraySlice<HistoryRow>) -> String?
}

/// A symptom present at one epoch.
public struct SymptomFinding: Sendable, Equatable {
    public var symptom: String
    public var epoch: Int
    public var detail: String

    public init(symptom: String, epoch: Int, detail: String) {
        self.symptom = symptom
        self.epoch = epoch
        self.detail = detail
    }
}

/// The rule set and its evaluation over a history.
public enum Symptoms {
    /// Every rule, in the order reports list them.
    public static let all: [any SymptomRule] = [
        Spike(), SustainedRise(), Stuck(), ChancePlateau(), SaturatedOutputs(), SaturationRising(), ExplodingGradient(),
        VanishingGradient(), DeadReLU(), Oscillation(), UpdateRatio(), AdamUpdateRMS(), EpsilonDominated(),
        NonFinite(), Explosion(),
    ]

    /// The symptoms that mean the run fell apart (what `scan`'s verdict, the last healthy
    /// checkpoint and `replay`'s default symptom are about); the others are warnings.
    public static let divergence: Set<String> = ["spike", "sustained-rise", "nan", "explosion"]

    public static var names: [String] { all.map(\.name) }

    public static func rule(named name: String) -> (any SymptomRule)? {
        all.first { $0.name == name }
    }

    /// Every (symptom, epoch) where a rule holds, epochs in order, rules in `all`'s order.
    public static func evaluate(_ history: [HistoryRow], rules: [any SymptomRule] = Symptoms.all) -> [SymptomFinding] {
        let rows = history.sorted { $0.epoch < $1.epoch }
        var found: [SymptomFinding] = []
        for end in rows.indices {
            for rule in rules {
                if let detail = rule.check(rows[...end]) {
                    found.append(SymptomFinding(symptom: rule.name, epoch: rows[end].epoch, detail: detail))
                }
            }
        }
        return found
    }

    /// The symptoms that start at the last row: present there and not at the row before.
    public static func onsets(_ history: [HistoryRow], rules: [any SymptomRule] = Symptoms.all) -> [SymptomFinding] {
        let rows = history.sorted { $0.epoch < $1.epoch }
        guard let last = rows.last else { return [] }
        return rules.compactMap { rule in
            guard let detail = rule.check(rows[...]) else { return nil }
            if rows.count > 1, rule.check(rows.dropLast()) != nil { return nil }
            return SymptomFinding(symptom: rule.name, epoch: last.epoch, detail: detail)
        }
    }
}

extension ArraySlice where Element == HistoryRow {
    /// The smallest finite loss before the last row, with its epoch.
    var bestLossBeforeLast: (epoch: Int, loss: Double)? {
        var best: (Int, Double)?
        for row in dropLast() {
            guard let loss = row.values["loss"], loss.isFinite else { continue }
            if best == nil || loss < best!.1 { best = (row.epoch, loss) }
        }
        return best
    }
}

/// Numbers in symptom details: four significant digits.
func describe(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return String(format: "%.4g", value)
}
