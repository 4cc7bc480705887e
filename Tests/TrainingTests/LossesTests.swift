import XCTest
import Kernels
@testable import Training

final class LossesTests: XCTestCase {
    let z: [Float] = [2.0, -1.0, 0.5, -3.0, 0.25, 1.5]
    let y: [Float] = [1, 0, 0, 0, 0, 1]
    let shape = [2, 3]

    func sigmoidOutput() -> Tensor { Tensor(shape: shape, data: z.map { 1 / (1 + exp(-$0)) }) }

    func assertClose(_ a: [Float], _ b: [Double], tolerance: Double, _ message: String = "", line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, line: line)
        for (x, r) in zip(a, b) {
            XCTAssertEqual(Double(x), r, accuracy: tolerance * max(1, abs(r)), message, line: line)
        }
    }

    private func gradient(_ e: LossEvaluation) -> (Tensor, Bool) {
        switch e.gradient {
        case .output(let g): return (g, false)
        case .logits(let g): return (g, true)
        }
    }

    /// Every loss, every semantics, after linear, sigmoid and softmax: the gradient against a
    /// float64 finite difference of the Keras formula on whatever it is taken with respect to.
    func testGradientsMatchFiniteDifferences() {
        let labels = Tensor(shape: shape, data: y)
        let yD = y.map(Double.init)
        for loss in [LossFunction.binaryCrossentropy, .categoricalCrossentropy, .meanSquaredError, .logcosh] {
            for semantics in LossSemantics.allCases {
                for activation in [OutputActivation.linear, .sigmoid, .softmax] {
                    let logits = Tensor(shape: shape, data: z)
                    let output: Tensor
                    switch activation {
                    case .softmax: output = softmax(rows: logits)
                    case .sigmoid: output = sigmoidOutput()
                    default: output = sigmoidOutput()  // probabilities, as if a linear layer made them
                    }
                    let e = Loss(loss).evaluate(output: output, logits: logits, activation: activation, labels: labels, semantics: semantics)
                    let (g, wrtLogits) = gradient(e)
                    let shortcut = (semantics == .tfKeras || semantics == .keras3TensorFlow) && activation != .linear
                        && (loss == .binaryCrossentropy || loss == .categoricalCrossentropy)
                    XCTAssertEqual(wrtLogits, shortcut, "\(loss) \(semantics) \(activation)")
                    let at = (wrtLogits ? logits : output).data.map(Double.init)
                    let f: ([Double]) -> Double = { x in
                        switch (loss, wrtLogits) {
                        case (.binaryCrossentropy, true):
                            return LossReference.elementMean(x, yD, width: 3, LossReference.sigmoidCE)
                        case (.binaryCrossentropy, false):
                            let s = semantics == .keras22 ? "keras22" : semantics == .tfKeras ? "tfKeras" : "keras3"
                            return LossReference.elementMean(x, yD, width: 3) { LossReference.bce($0, $1, s) }
                        case (.categoricalCrossentropy, true):
                            return LossReference.rowSumMean(x, yD, width: 3, LossReference.cceOnLogits)
                        case (.categoricalCrossentropy, false):
                            return LossReference.rowSumMean(x, yD, width: 3, LossReference.cceOnProbabilities)
                        case (.meanSquaredError, _):
                            return LossReference.elementMean(x, yD, width: 3) { ($0 - $1) * ($0 - $1) }
                        case (.logcosh, _):
                            return LossReference.elementMean(x, yD, width: 3) { log(cosh($0 - $1)) }
                        default:
                            fatalError("not in this test")
                        }
                    }
                    let context = "\(loss) \(semantics) \(activation)"
                    XCTAssertEqual(Double(e.mean), f(at), accuracy: 1e-6, context)
                    assertClose(g.data, LossReference.numericGradient(at, f), tolerance: 1e-5, context)
                    XCTAssertEqual(e.perSample.shape, [2], context)
                }
            }
        }
    }

    /// Values from tf-keras 2.21 (tools: /tmp/ref/loss_ref.py in the report):
    ///   p = tf_keras.activations.softmax(z)  # or sigmoid; carries _keras_logits
    ///   tf_keras.losses.binary_crossentropy(y, p); tape.gradient(reduce_mean(...), z)
    func testTFKerasUsesCachedLogitsEvenAfterSoftmax() {
        let logits = Tensor(shape: shape, data: z)
        let labels = Tensor(shape: shape, data: y)
        let bceLoss: [Double] = [0.4714222252368927, 0.3586466610431671]
        let bceGrad: [Double] = [-0.019867151975631714, 0.04482357203960419, 0.10374322533607483,
                                 0.007904312573373318, 0.09369608759880066, -0.030404256656765938]
        let cceLoss: [Double] = [0.24131132662296295, 0.2605270743370056]
        let cceGrad: [Double] = [-0.107201486825943, 0.019556285813450813, 0.08764519542455673,
                                 0.004280547611415386, 0.11039678752422333, -0.11467736959457397]
        // The same numbers after softmax and after sigmoid: only the logits matter.
        for (activation, output) in [(OutputActivation.softmax, softmax(rows: logits)), (.sigmoid, sigmoidOutput())] {
            let bce = Loss(.binaryCrossentropy).evaluate(output: output, logits: logits, activation: activation, labels: labels, semantics: .tfKeras)
            assertClose(bce.perSample.data, bceLoss, tolerance: 1e-6)
            guard case .logits(let g) = bce.gradient else { return XCTFail("expected a logits gradient") }
            assertClose(g.data, bceGrad, tolerance: 1e-6)
            let cce = Loss(.categoricalCrossentropy).evaluate(output: output, logits: logits, activation: activation, labels: labels, semantics: .tfKeras)
            assertClose(cce.perSample.data, cceLoss, tolerance: 1e-6)
            guard case .logits(let h) = cce.gradient else { return XCTFail("expected a logits gradient") }
            assertClose(h.data, cceGrad, tolerance: 1e-6)
        }
    }

    /// tf-keras 2.21 on a plain tensor (no cached logits): `-(y log(p + eps) + (1 - y) log(1 - p + eps))`.
    func testTFKerasPlainBinaryCrossentropy() {
        let e = Loss(.binaryCrossentropy).evaluate(output: sigmoidOutput(), activation: .linear,
                                                         labels: Tensor(shape: shape, data: y), semantics: .tfKeras)
        assertClose(e.perSample.data, [0.4714220464229584, 0.35864654183387756], tolerance: 1e-6)
        guard case .output(let g) = e.gradient else { return XCTFail("expected an output gradient") }
        assertClose(g.data, [-0.189222514629364, 0.2279798686504364, 0.4414534568786621,
                             0.17496448755264282, 0.3806708753108978, -0.2038550078868866], tolerance: 1e-5)
    }

    /// tf.clip_by_value: gradient zero strictly outside [eps, 1 - eps], passed on the bounds.
    func testGradientStopsOnlyWhereTheClipBites() {
        let eps = Float(1e-7), hi = 1 - Float(1e-7)
        let p: [Float] = [0, 1e-9, eps, hi, 1, 0.5]
        let output = Tensor(shape: [1, 6], data: p)
        let labels = Tensor(shape: [1, 6], data: [1, 1, 1, 0, 0, 1])
        for semantics in [LossSemantics.keras22, .tfKeras, .keras3] {
            let e = Loss(.binaryCrossentropy).evaluate(output: output, activation: .linear, labels: labels, semantics: semantics)
            guard case .output(let g) = e.gradient else { return XCTFail("expected an output gradient") }
            XCTAssertEqual(Array(g.data[0..<2]), [0, 0], "\(semantics): below the clip")
            XCTAssertNotEqual(g.data[2], 0, "\(semantics): on the lower bound")
            XCTAssertNotEqual(g.data[3], 0, "\(semantics): on the upper bound")
            XCTAssertEqual(g.data[4], 0, "\(semantics): above the clip")
            XCTAssertTrue(e.mean.isFinite)
        }
    }

    /// Keras 2.2 on a saturated softmax: the clipped logit caps the loss near -log(1e-7) per
    /// element (asymmetrically: 1 - 1e-7 rounds to 1 - 2^-23 in float32).
    func testKeras22BinaryCrossentropyIsCappedBySaturation() {
        let output = Tensor(shape: [1, 2], data: [1, 0])
        let labels = Tensor(shape: [1, 2], data: [0, 1])
        let e = Loss(.binaryCrossentropy).evaluate(output: output, activation: .softmax, labels: labels, semantics: .keras22)
        let expected = (LossReference.bce(1, 0, "keras22") + LossReference.bce(0, 1, "keras22")) / 2
        XCTAssertEqual(Double(e.mean), expected, accuracy: 1e-5)
        XCTAssertEqual(expected, 16.030, accuracy: 1e-3)
        XCTAssertEqual(e.gradient, .output(Tensor(zeros: [1, 2])))
    }

    func testAgreement() {
        XCTAssertEqual(LossFunction.binaryCrossentropy.agreement(after: .softmax), .differs)
        XCTAssertEqual(LossFunction.categoricalCrossentropy.agreement(after: .sigmoid), .differs)
        XCTAssertEqual(LossFunction.categoricalCrossentropy.agreement(after: .softmax), .differsNearSaturation)
        XCTAssertEqual(LossFunction.meanSquaredError.agreement(after: .softmax), .identical)
    }

    func testNames() {
        XCTAssertEqual(LossFunction(kerasName: "mse"), .meanSquaredError)
        XCTAssertEqual(LossFunction(kerasName: "log_cosh"), .logcosh)
        XCTAssertEqual(LossFunction(kerasName: "logcosh"), .logcosh)
        XCTAssertNil(LossFunction(kerasName: "cosine_similarity"))
    }
}
