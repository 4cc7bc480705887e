import Foundation
import Kernels
@testable import Training
import XCTest

/// Every loss and option in every semantics, Keras 2.2 and Keras 3 on JAX included (no real
/// Keras of those runs here): the value against an independent float64 formula from that
/// Keras's source, the gradient against its central difference.
final class LossGradientTests: XCTestCase {
    let z: [Float] = [2.0, -1.0, 0.5, -3.0, 0.25, 1.5, 0.3, -0.2, 4.0]
    let binary: [Float] = [1, 0, 0, 0, 1, 1, 1, 0, 1]
    let real: [Float] = [0.5, -1.0, 2.0, 0.0, 0.3, -0.7, 1.5, 1.0, 0.2]
    let classes: [Float] = [0, 2, 1]
    let shape = [3, 3]

    var probabilities: [Float] { z.map { 1 / (1 + exp(-$0)) } }

    func check(_ loss: Loss, input: [Float], labels: [Float], semantics: LossSemantics,
               reference: ([Double]) -> Double, line: UInt = #line) {
        let context = "\(loss) \(semantics.rawValue)"
        let labelTensor = loss.takesClassIndices ? Tensor(shape: [3, 1], data: labels) : Tensor(shape: shape, data: labels)
        let e = loss.evaluate(output: Tensor(shape: shape, data: input), activation: .linear, labels: labelTensor, semantics: semantics)
        let x = input.map(Double.init)
        XCTAssertEqual(Double(e.mean), reference(x), accuracy: 1e-5 * max(1, abs(reference(x))), context, line: line)
        guard case .output(let g) = e.gradient else { return XCTFail(context, line: line) }
        for (a, r) in zip(g.data, LossReference.numericGradient(x, reference)) {
            XCTAssertEqual(Double(a), r, accuracy: 1e-4 * max(1, abs(r)), context, line: line)
        }
    }

    /// Keras 2.2, tf.keras and Keras 3 on TensorFlow: clip, log, sparse softmax cross-entropy
    /// (softmax of log c renormalises). Keras 3 on JAX: normalise, clip, -log.
    func testSparseCategoricalOnProbabilities() {
        let oneHot = classes.enumerated().flatMap { r, c in (0..<3).map { Double($0 == Int(c) ? 1 : 0) } }
        for semantics in LossSemantics.allCases {
            check(Loss(.sparseCategoricalCrossentropy, weight: 0.5), input: probabilities, labels: classes, semantics: semantics) { x in
                let perRow = (0..<3).map { r -> Double in
                    let row = Array(x[(r * 3)..<(r * 3 + 3)]), y = Array(oneHot[(r * 3)..<(r * 3 + 3)])
                    if semantics == .keras3 { return LossReference.cceOnProbabilities(row, y) }
                    let c = row.map(LossReference.clip)
                    return log(c.reduce(0, +)) - zip(c, y).reduce(0.0) { $0 + $1.1 * log($1.0) }
                }
                return 0.5 * perRow.reduce(0, +) / 3
            }
            check(Loss(.sparseCategoricalCrossentropy, fromLogits: true, reduction: .sum), input: z, labels: classes, semantics: semantics) { x in
                (0..<3).reduce(0.0) { $0 + LossReference.cceOnLogits(Array(x[($1 * 3)..<($1 * 3 + 3)]), Array(oneHot[($1 * 3)..<($1 * 3 + 3)])) }
            }
        }
    }

    /// Keras 2.2's hinge takes 0/1 labels as they are; the others map them to -1/1. (Inputs moved
    /// off the kink at 1 - y p = 0, where a central difference halves TensorFlow's gradient.)
    func testHingeLabels() {
        let z = self.z.map { $0 + 0.1 }
        for semantics in LossSemantics.allCases {
            let y = binary.map { semantics == .keras22 ? Double($0) : 2 * Double($0) - 1 }
            check(Loss(.hinge), input: z, labels: binary, semantics: semantics) { x in
                LossReference.elementMean(x, y, width: 3) { max(1 - $1 * $0, 0) }
            }
            check(Loss(.squaredHinge), input: z, labels: binary, semantics: semantics) { x in
                LossReference.elementMean(x, y, width: 3) { pow(max(1 - $1 * $0, 0), 2) }
            }
        }
    }

    func testElementwiseAndRowLosses() {
        let eps = LossReference.eps
        let counts: [Float] = [1, 0, 2, 0, 3, 1, 1, 1, 0]
        let dist: [Float] = [0.7, 0.2, 0.1, 0, 0.5, 0.5, 0.2, 0.3, 0.5]
        let rd = real.map(Double.init), cd = counts.map(Double.init), dd = dist.map(Double.init)
        for semantics in LossSemantics.allCases {
            check(Loss(.meanAbsoluteError), input: z, labels: real, semantics: semantics) { LossReference.elementMean($0, rd, width: 3) { abs($0 - $1) } }
            // Without the zero label: its 1e9 slope drowns a central difference in rounding.
            let nonzero = real.map { $0 == 0 ? 0.25 : $0 }
            check(Loss(.meanAbsolutePercentageError), input: z, labels: nonzero, semantics: semantics) {
                LossReference.elementMean($0, nonzero.map(Double.init), width: 3) { 100 * abs(($1 - $0) / max(abs($1), eps)) }
            }
            check(Loss(.meanSquaredLogarithmicError), input: z, labels: counts, semantics: semantics) {
                LossReference.elementMean($0, cd, width: 3) { pow(log(max($0, eps) + 1) - log(max($1, eps) + 1), 2) }
            }
            check(Loss(.huber, delta: 0.5, reduction: .sum), input: z, labels: real, semantics: semantics) {
                3 * LossReference.elementMean($0, rd, width: 3) { p, y in abs(p - y) <= 0.5 ? 0.5 * (p - y) * (p - y) : 0.5 * abs(p - y) - 0.125 }
            }
            check(Loss(.poisson), input: probabilities, labels: counts, semantics: semantics) {
                LossReference.elementMean($0, cd, width: 3) { $0 - $1 * log($0 + eps) }
            }
            check(Loss(.klDivergence), input: probabilities, labels: dist, semantics: semantics) {
                LossReference.rowSumMean($0, dd, width: 3) { p, y in
                    zip(p, y).reduce(0.0) { s, py in
                        let yc = min(max(py.1, eps), 1), pc = min(max(py.0, eps), 1)
                        return s + yc * log(yc / pc)
                    }
                }
            }
            check(Loss(.categoricalHinge), input: z, labels: [1, 0, 0, 0, 0, 1, 0, 1, 0], semantics: semantics) {
                LossReference.rowSumMean($0, [1, 0, 0, 0, 0, 1, 0, 1, 0], width: 3) { p, y in
                    let pos = zip(p, y).reduce(0.0) { $0 + $1.0 * $1.1 }
                    let neg = zip(p, y).map { (1 - $0.1) * $0.0 }.max()!
                    return max(neg - pos + 1, 0)
                }
            }
        }
    }

    /// Label smoothing and from_logits in Keras 3 on JAX: `-sum y log_softmax`, whose exact
    /// gradient is `sum(y) softmax - y`.
    func testKeras3JAXLogitsWithSmoothing() {
        let y: [Float] = [1, 0, 0, 0, 0, 1, 0, 1, 0]
        let smoothed = y.map { Double($0 * (1 - Float(0.1)) + Float(0.1) / 3) }
        check(Loss(.categoricalCrossentropy, fromLogits: true, labelSmoothing: 0.1), input: z, labels: y, semantics: .keras3) {
            LossReference.rowSumMean($0, smoothed, width: 3, LossReference.cceOnLogits)
        }
        let smoothedBinary = binary.map { Double($0 * (1 - Float(0.2)) + 0.5 * Float(0.2)) }
        check(Loss(.binaryCrossentropy, labelSmoothing: 0.2), input: probabilities, labels: binary, semantics: .keras22) {
            LossReference.elementMean($0, smoothedBinary, width: 3) { LossReference.bce($0, $1, "keras22") }
        }
    }
}
