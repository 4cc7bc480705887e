import Foundation
import Training
import XCTest

/// Each symptom rule on constructed histories: where it must hold and where it must not
/// (thresholds and sources in docs/DIAGNOSIS.md).
final class SymptomRuleTests: XCTestCase {
    /// Rows numbered from 1 with the given losses and, per row, other values.
    func history(losses: [Double], _ extra: [[String: Double]] = []) -> [HistoryRow] {
        losses.enumerated().map { i, loss in
            var values = ["loss": loss]
            if i < extra.count { values.merge(extra[i]) { _, b in b } }
            return HistoryRow(epoch: i + 1, values: values)
        }
    }

    func rows(_ values: [[String: Double]]) -> [HistoryRow] {
        values.enumerated().map { HistoryRow(epoch: $0.offset + 1, values: $0.element) }
    }

    /// The epochs at which `rule` holds.
    func epochs(_ rule: any SymptomRule, _ history: [HistoryRow]) -> [Int] {
        Symptoms.evaluate(history, rules: [rule]).map(\.epoch)
    }

    func testSpike() {
        let rule = Spike()
        XCTAssertEqual(epochs(rule, history(losses: [0.5, 0.2, 0.1, 0.09, 0.25, 0.3, 0.08])), [5, 6])
        XCTAssertEqual(epochs(rule, history(losses: [0.5, 0.2, 0.1, 0.19])), [], "1.9x is not a spike")
        XCTAssertEqual(epochs(rule, history(losses: [0.01, 0.005, 0.012])), [], "2.4x but only 0.007 above: noise")
        XCTAssertEqual(epochs(rule, history(losses: [0.5, .nan])), [2], "a NaN after a finite best")
        XCTAssertEqual(epochs(rule, history(losses: [0.5])), [])
    }

    func testSustainedRise() {
        let rule = SustainedRise()
        XCTAssertEqual(epochs(rule, history(losses: [1, 0.2, 0.31, 0.35, 0.32, 0.1])), [5], "three epochs >= 1.5x best 0.2")
        XCTAssertEqual(epochs(rule, history(losses: [1, 0.2, 0.31, 0.25, 0.32, 0.33])), [], "broken by 0.25")
        XCTAssertEqual(epochs(rule, history(losses: [1, 0.2, 0.31, 0.35, 0.32, 0.4])), [5, 6])
    }

    func testStuck() {
        let rule = Stuck()
        XCTAssertEqual(epochs(rule, history(losses: [2, 8.18, 8.18, 8.18, 8.18, 8.18, 8.18])), [6, 7])
        XCTAssertEqual(epochs(rule, history(losses: [2, 8.18, 8.18, 8.18, 8.18, 8.17])), [])
        XCTAssertEqual(epochs(rule, history(losses: [2, 1.9], [["grad_norm": 1], ["grad_norm": 0]])), [2], "a zero gradient")
    }

    func testChancePlateau() {
        let rule = ChancePlateau()
        let h = history(losses: [0.70, 0.69, 0.60, 0.682], Array(repeating: ["chance_loss": 0.6931], count: 4))
        XCTAssertEqual(epochs(rule, h), [1, 2, 4], "within 2% of 0.6931: [0.679, 0.707]")
        XCTAssertEqual(epochs(rule, history(losses: [0.69])), [], "no chance_loss, no judgement")
    }

    func testSaturation() {
        let rule = SaturatedOutputs()
        XCTAssertEqual(epochs(rule, history(losses: [1, 1, 1], [["saturated_fraction": 0.5], ["saturated_fraction": 0.51], [:]])), [2])
    }

    /// The seed's divergence: 4.8% at the best loss, then 13.6% and 17% through the spike.
    func testSaturationRising() {
        let rule = SaturationRising()
        let h = history(losses: [0.05, 0.0149, 0.03, 0.0788, 0.106, 0.01],
                        [["saturated_fraction": 0.03], ["saturated_fraction": 0.048], ["saturated_fraction": 0.09],
                         ["saturated_fraction": 0.136], ["saturated_fraction": 0.17], ["saturated_fraction": 0.2]])
        // Epoch 3: 9% < 10%; 4, 5 and 6: >= 10% and >= 2x the 4.8% of the best loss before them
        // (epoch 6's loss is lower, but its outputs sit on the clip more than ever: the seed's
        // recovered run "with saturation still rising").
        XCTAssertEqual(epochs(rule, h), [4, 5, 6])
        XCTAssertEqual(epochs(rule, history(losses: [1, 0.5], [["saturated_fraction": 0.3], ["saturated_fraction": 0.5]])), [],
                       "the best loss is the last row: nothing to compare with")
    }

    func testExplodingAndVanishingGradients() {
        let h = rows([
            ["grad_norm_first_kernel": 7, "grad_norm_last_kernel": 0.1],       // ratio 70: not above
            ["grad_norm_first_kernel": 7.1, "grad_norm_last_kernel": 0.1],     // 71
            ["grad_norm_first_kernel": 5e-5, "grad_norm_last_kernel": 0.1],    // 5e-4 and < 1e-4: vanishing
            ["grad_norm_first_kernel": 2e-4, "grad_norm_last_kernel": 1],      // 2e-4 ratio, but first >= 1e-4
            ["grad_norm_first_kernel": 0, "grad_norm_last_kernel": 0],         // undefined: neither
        ])
        XCTAssertEqual(epochs(ExplodingGradient(), h), [2])
        XCTAssertEqual(epochs(VanishingGradient(), h), [3])
    }

    func testDeadReLU() {
        let h = rows([["dead_fraction/conv2d": 0.69, "dead_fraction/dense": 0.1], ["dead_fraction/conv2d": 0.7]])
        XCTAssertEqual(epochs(DeadReLU(), h), [2])
        XCTAssertEqual(Symptoms.evaluate(h, rules: [DeadReLU()]).first?.detail, "conv2d 0.7")
    }

    func testOscillationFollowsAutotrainersOlJudge() {
        // Up to epoch 4: peak 0.80 and trough 0.70 pair up, 0.1 apart: 1 pair >= 0.2 x 4 epochs.
        // Up to epoch 5: peaks 0.80, 0.82, trough 0.70: still one pair, >= 0.2 x 5.
        let h = rows([0.6, 0.8, 0.7, 0.82, 0.81].map { ["accuracy": $0] })
        XCTAssertEqual(epochs(Oscillation(), h), [4, 5])
        let smooth = rows([0.6, 0.7, 0.8, 0.85, 0.9, 0.92].map { ["accuracy": $0] })
        XCTAssertEqual(epochs(Oscillation(), smooth), [])
    }

    func testUpdateRatio() {
        let h = rows([["update_ratio/conv2d": 1e-3, "update_ratio/dense": 0.05],
                      ["update_ratio/conv2d": 0.2, "update_ratio/dense": 0.05],
                      ["update_ratio/conv2d": 1e-3, "update_ratio/dense": 5e-6]])
        XCTAssertEqual(epochs(UpdateRatio(), h), [2, 3])
    }

    func testAdamUpdateRMSAndEpsilonDominated() {
        let h = rows([["adam_update_rms": 0.9, "adam_eps_dominated": 0.5],
                      ["adam_update_rms": 1.2, "adam_eps_dominated": 0.6]])
        XCTAssertEqual(epochs(AdamUpdateRMS(), h), [2])
        XCTAssertEqual(epochs(EpsilonDominated(), h), [2])
    }

    func testNonFiniteAndExplosion() {
        let h = rows([["loss": 1, "weight_norm": 10], ["loss": 1, "val_loss": 2e5, "weight_norm": 20],
                      ["loss": .infinity, "weight_norm": 250], ["loss": 1, "grad_norm": .nan, "weight_norm": 250]])
        XCTAssertEqual(epochs(NonFinite(), h), [2, 3, 4])
        XCTAssertEqual(epochs(Explosion(), h), [3])
    }

    func testOnsetsAreTheSymptomsThatStartAtTheLastEpoch() {
        let h = history(losses: [0.5, 0.1, 0.3, 0.35], Array(repeating: ["saturated_fraction": 0.6], count: 4))
        XCTAssertEqual(Symptoms.onsets(h).map(\.symptom), [], "the spike began at 3, saturation at 1")
        XCTAssertEqual(Symptoms.onsets(Array(h.prefix(3))).map(\.symptom), ["spike"])
        XCTAssertEqual(Symptoms.onsets(Array(h.prefix(1))).map(\.symptom), ["saturation"])
    }

    func testEveryRuleHasANameADefinitionAndASource() {
        XCTAssertEqual(Set(Symptoms.names).count, Symptoms.all.count)
        for rule in Symptoms.all {
            XCTAssertFalse(rule.definition.isEmpty, rule.name)
            XCTAssertFalse(rule.source.isEmpty, rule.name)
        }
    }
}
