import Foundation

/// More than `threshold` of the samples with an output on the loss's 1e-7 probability clip
/// (history's `saturated_fraction`), where Keras 2.2's cross-entropy has no gradient.
public struct SaturatedOutputs: SymptomRule {
    public var threshold = 0.5
    public init() {}
    public var name: String { "saturation" }
    public var definition: String { "more than \(describe(threshold * 100))% of the samples' outputs on the loss clip (saturated_fraction)" }
    public var source: String {
        "SageMaker Debugger SaturatedActivation, threshold_layer = 50%; DeepDiagnosis identifySaturated, threshold_layer = 0.5"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let share = history.last?.values["saturated_fraction"], share > threshold else { return nil }
        return "saturated_fraction \(describe(share))"
    }
}

/// Saturation on the way up, long before the published 50%: at least `minimum` of the samples on
/// the loss clip and at least `factor` times the share at the epoch of the best loss so far. On
/// the seed's divergence the share climbs 4.8% -> 13.6% -> 17% through the spike while the
/// published rule stays silent (docs/WALKTHROUGH.md). Relapse's own thresholds.
public struct SaturationRising: SymptomRule {
    public var minimum = 0.1
    public var factor = 2.0
    public init() {}
    public var name: String { "saturation-rising" }
    public var definition: String {
        "saturated_fraction >= \(describe(minimum * 100))% and >= \(describe(factor))x its value at the best loss so far"
    }
    public var source: String { "Relapse's own thresholds (the published saturation rule is the 50% one)" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let share = history.last?.values["saturated_fraction"], share >= minimum,
              let best = history.bestLossBeforeLast,
              let then = history.first(where: { $0.epoch == best.epoch })?.values["saturated_fraction"],
              share >= factor * then else { return nil }
        return "saturated_fraction \(describe(share)), \(describe(then)) at the best loss (epoch \(best.epoch))"
    }
}

/// AUTOTRAINER's gradient rules on the first and last layers' kernel gradient norms
/// (epoch means: `grad_norm_first_kernel`, `grad_norm_last_kernel`).
public struct ExplodingGradient: SymptomRule {
    public var ratio = 70.0
    public init() {}
    public var name: String { "exploding-gradient" }
    public var definition: String { "first layer's kernel gradient norm > \(describe(ratio))x the last layer's" }
    public var source: String { "AUTOTRAINER (Zhang et al., ICSE 2021): gradient_issue, beta_3 = 70 (utils/monitor.py)" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last, let first = row.values["grad_norm_first_kernel"],
              let last = row.values["grad_norm_last_kernel"], last > 0, first / last > ratio else { return nil }
        return "first/last kernel gradient norms \(describe(first)) / \(describe(last)) = \(describe(first / last))"
    }
}

public struct VanishingGradient: SymptomRule {
    public var ratio = 1e-3
    public var firstNorm = 1e-4
    public init() {}
    public var name: String { "vanishing-gradient" }
    public var definition: String {
        "first layer's kernel gradient norm < \(describe(ratio))x the last layer's and < \(describe(firstNorm))"
    }
    public var source: String { "AUTOTRAINER (Zhang et al., ICSE 2021): gradient_issue, beta_1 = 1e-3, beta_2 = 1e-4" }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last, let first = row.values["grad_norm_first_kernel"],
              let last = row.values["grad_norm_last_kernel"], last > 0,
              first / last < ratio, first < firstNorm else { return nil }
        return "first/last kernel gradient norms \(describe(first)) / \(describe(last))"
    }
}

/// At least `threshold` of a ReLU layer's units never positive on the reference batch
/// (`dead_fraction/<layer>`, measured at each epoch's end).
public struct DeadReLU: SymptomRule {
    public var threshold = 0.7
    public init() {}
    public var name: String { "dead-relu" }
    public var definition: String { ">= \(describe(threshold * 100))% of a ReLU layer's units never positive on a reference batch" }
    public var source: String {
        "AUTOTRAINER gamma = 0.7 (utils/monitor.py); DeepDiagnosis identifyDead, threshold_layer_1 = 0.7 (callbacks.py)"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last else { return nil }
        let dead = row.values.filter { $0.key.hasPrefix("dead_fraction/") && $0.value >= threshold }
            .sorted { $0.key < $1.key }
        guard !dead.isEmpty else { return nil }
        return dead.map { "\($0.key.dropFirst("dead_fraction/".count)) \(describe($0.value))" }.joined(separator: ", ")
    }
}

/// A layer's mean update-to-weight ratio ||dw|| / ||w|| per step outside [low, high]
/// (`update_ratio/<layer>`).
public struct UpdateRatio: SymptomRule {
    public var low = 1e-5
    public var high = 0.1
    public init() {}
    public var name: String { "update-ratio" }
    public var definition: String { "a layer's update-to-weight ratio per step outside [\(describe(low)), \(describe(high))]" }
    public var source: String {
        "DeepDiagnosis (Wardat et al., ICSE 2022): lr ||dW|| / ||W|| outside [1e-3 / 100, 1e-3 * 100] (callbacks.py, LearnRate_threshold)"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let row = history.last else { return nil }
        let outside = row.values.filter { $0.key.hasPrefix("update_ratio/") && ($0.value < low || $0.value > high || $0.value.isNaN) }
            .sorted { $0.key < $1.key }
        guard !outside.isEmpty else { return nil }
        return outside.map { "\($0.key.dropFirst("update_ratio/".count)) \(describe($0.value))" }.joined(separator: ", ")
    }
}

/// Adam's update RMS above 1: the gradients are larger than the second moment expects, so the
/// step is larger than Adam's nominal lr (StableAdamW clips the learning rate there).
public struct AdamUpdateRMS: SymptomRule {
    public var threshold = 1.0
    public init() {}
    public var name: String { "adam-update-rms" }
    public var definition: String {
        "Adam's update RMS sqrt(mean(g^2 / max(v_hat, eps^2))) > \(describe(threshold)) (epoch mean of the per-step largest over weights)"
    }
    public var source: String {
        "StableAdamW (Wortsman et al. 2023, Stable and low-precision training for large-scale vision-language models): update clipping at RMS > 1"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let rms = history.last?.values["adam_update_rms"], rms > threshold || rms.isNaN else { return nil }
        let peak = history.last?.values["adam_update_rms_max"].map { ", largest step \(describe($0))" } ?? ""
        return "adam_update_rms \(describe(rms))\(peak)"
    }
}

/// More than `threshold` of Adam's coordinates with sqrt(v_hat) < epsilon
/// (`adam_eps_dominated`): there epsilon, not the gradient history, sets the step.
public struct EpsilonDominated: SymptomRule {
    public var threshold = 0.5
    public init() {}
    public var name: String { "epsilon-dominated" }
    public var definition: String { "more than \(describe(threshold * 100))% of Adam's coordinates with sqrt(v_hat) < epsilon" }
    public var source: String {
        "the seed question's suspect (Adam's epsilon; Kingma & Ba 2015, Algorithm 1); the 50% is Relapse's, no tool publishes one"
    }

    public func check(_ history: ArraySlice<HistoryRow>) -> String? {
        guard let share = history.last?.values["adam_eps_dominated"], share > threshold else { return nil }
        return "adam_eps_dominated \(describe(share))"
    }
}
