import Foundation

/// A loss at least `factor` times the best so far, and at least `minimumRise` above it (the
/// minimum keeps a near-zero loss's noise, 0.001 -> 0.003, out). A non-finite loss after a
/// finite best counts too.
public struct Spike: SymptomRule {
    public var factor = 2.0
    public var minimumRise = 0.05
    public init() {}
    public var name: String { "spike" }
    public var definition: String { "loss >= \(describe(factor))x the best loss so far and >= \(describe(minimumRise)) above it" }
    public var source: String {
        "loss spikes as large-model logbooks report them (PaLM, Chowdhery et al. 2022, sec. 5.1); the factor and minimum are Relapse's"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last, let loss = row.values["loss"], let best = history.bestLossBeforeLast else { return nil }
        if !loss.isFinite { return "loss \(describe(loss)) after a best of \(describe(best.loss)) (epoch \(best.epoch))" }
        guard loss >= factor * best.loss, loss - best.loss >= minimumRise else { return nil }
        return "loss \(describe(loss)) >= \(describe(factor)) x best \(describe(best.loss)) (epoch \(best.epoch))"
    }
}

/// The loss at least `factor` times the best before it for `epochs` epochs in a row.
public struct SustainedRise: SymptomRule {
    public var factor = 1.5
    public var epochs = 3
    public var minimumRise = 0.05
    public init() {}
    public var name: String { "sustained-rise" }
    public var definition: String {
        "loss >= \(describe(factor))x the best before it (and >= \(describe(minimumRise)) above) for \(epochs) epochs in a row"
    }
    public var source: String { "Relapse's rule (issue 15); a slow climb that the 2x spike rule misses" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard history.count > epochs else { return nil }
        var first: (Int, Double)?
        for end in (history.endIndex - epochs)..<history.endIndex {
            let slice = history[history.startIndex...end]
            guard let loss = slice.last?.values["loss"], let best = slice.bestLossBeforeLast else { return nil }
            guard !loss.isFinite || (loss >= factor * best.loss && loss - best.loss >= minimumRise) else { return nil }
            if first == nil { first = (best.epoch, best.loss) }
        }
        let start = history[history.endIndex - epochs].epoch
        return "loss >= \(describe(factor)) x best \(describe(first!.1)) (epoch \(first!.0)) since epoch \(start)"
    }
}

/// DeepDiagnosis's "loss not decreasing": the last `window` losses all equal (their mean is
/// their maximum), or a zero gradient norm.
public struct Stuck: SymptomRule {
    public var window = 5
    public init() {}
    public var name: String { "stuck" }
    public var definition: String { "loss unchanged over \(window) epochs, or gradient norm 0" }
    public var source: String {
        "DeepDiagnosis (Wardat et al., ICSE 2022): Loss Not Decreasing, mean == max of the last N = 5 losses (callbacks.py)"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last else { return nil }
        if let g = row.values["grad_norm"], g == 0 { return "gradient norm 0 over the whole epoch" }
        guard history.count >= window else { return nil }
        let losses = history.suffix(window).compactMap { $0.values["loss"] }
        guard losses.count == window, let first = losses.first, first.isFinite, losses.allSatisfy({ $0 == first }) else { return nil }
        return "loss \(describe(first)) in each of the last \(window) epochs"
    }
}

/// The loss within `tolerance` (relative) of a constant predictor's (`chance_loss`: the loss of
/// always predicting the training labels' mean).
public struct ChancePlateau: SymptomRule {
    public var tolerance = 0.02
    public init() {}
    public var name: String { "chance-plateau" }
    public var definition: String { "loss within \(describe(tolerance * 100))% of a constant predictor's (history's chance_loss)" }
    public var source: String {
        "Karpathy, A Recipe for Training Neural Networks (2019): check the loss against the constant-prediction baseline; the 2% is Relapse's"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last, let loss = row.values["loss"], let chance = row.values["chance_loss"],
              chance.isFinite, chance > 0, abs(loss - chance) <= tolerance * chance else { return nil }
        return "loss \(describe(loss)) vs \(describe(chance)) for a constant prediction of the label mean"
    }
}

/// AUTOTRAINER's unstable loss (`ol_judge`): over the accuracy history, pair the i-th local
/// maximum with the i-th local minimum; oscillating when at least `rate` x (epochs) pairs differ
/// by `threshold` or more.
public struct Oscillation: SymptomRule {
    public var threshold = 0.03
    public var rate = 0.2
    public init() {}
    public var name: String { "oscillation" }
    public var definition: String {
        "accuracy's i-th local maximum minus its i-th local minimum >= \(describe(threshold)) for >= \(describe(rate)) x epochs pairs"
    }
    public var source: String { "AUTOTRAINER (Zhang et al., ICSE 2021): ol_judge in utils/monitor.py, zeta = 0.03, eta = 0.2" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        let accuracy = history.compactMap { $0.values["accuracy"] }
        guard accuracy.count == history.count, accuracy.count >= 3 else { return nil }
        var maxima: [Double] = [], minima: [Double] = []
        for i in 1..<(accuracy.count - 1) {
            let a = accuracy[i]
            if a - accuracy[i - 1] >= 0 && a - accuracy[i + 1] >= 0 { maxima.append(a) }
            if a - accuracy[i - 1] <= 0 && a - accuracy[i + 1] <= 0 { minima.append(a) }
        }
        let count = zip(maxima, minima).filter { $0 - $1 >= threshold }.count
        guard count > 0, Double(count) >= rate * Double(accuracy.count) else { return nil }
        return "\(count) of \(min(maxima.count, minima.count)) accuracy peak/trough pairs differ by >= \(describe(threshold)) over \(accuracy.count) epochs"
    }
}

/// NaN or infinity in the loss, val_loss or gradient norm, or a val_loss of 1e5 or more.
public struct NonFinite: SymptomRule {
    public var valLossLimit = 1e5
    public init() {}
    public var name: String { "nan" }
    public var definition: String { "loss, val_loss or gradient norm NaN/Inf, or val_loss >= 1e5" }
    public var source: String { "AUTOTRAINER (Zhang et al., ICSE 2021): nan_loss in loss_issue, utils/monitor.py" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last else { return nil }
        for key in ["loss", "val_loss", "grad_norm"] {
            if let v = row.values[key], !v.isFinite { return "\(key) \(describe(v))" }
        }
        if let v = row.values["val_loss"], v >= valLossLimit { return "val_loss \(describe(v)) >= 1e5" }
        return nil
    }
}

/// The global weight norm growing more than `ratio` times from one epoch to the next.
public struct Explosion: SymptomRule {
    public var ratio = 10.0
    public init() {}
    public var name: String { "explosion" }
    public var definition: String { "weight norm grows more than \(describe(ratio))x in one epoch" }
    public var source: String { "Relapse's rule (scan's explosion ratio; per tensor when scan reads checkpoints)" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard history.count >= 2, let now = history.last?.values["weight_norm"],
              let before = history[history.endIndex - 2].values["weight_norm"], before > 0 else { return nil }
        if !now.isFinite { return "weight norm \(describe(now))" }
        guard now / before > ratio else { return nil }
        return "weight norm \(describe(before)) -> \(describe(now)) (x\(describe(now / before)))"
    }
}
