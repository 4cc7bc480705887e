import XCTest
import Kernels
@testable import Training

final class AdamTests: XCTestCase {
    /// tf_keras.optimizers.Adam() and keras.optimizers.Adam() give the same numbers.
    func testDefaultsMatchTFKerasAndKeras3() throws {
        for flavor in [OptimizerFlavor.tfKeras, .keras3] {
            var opt = Optimizer(Adam(), flavor: flavor)
            let w = try OptimizerFixture.run(&opt)
            OptimizerFixture.assertClose(w[0], [0.4990692138671875, -1.2492685317993164, 1.998530626296997, -0.002564083319157362])
            OptimizerFixture.assertClose(w[1], [0.09882424026727676, -0.3002876043319702])
            OptimizerFixture.assertClose(opt.slots["m"]?[0], [0.051100004464387894, 0.005299999378621578, -0.015700003132224083, 0.4800081253051758])
            OptimizerFixture.assertClose(opt.slots["v"]?[1], [0.00424950011074543, 0.0022506453096866608])
            XCTAssertEqual(opt.iterations, 3)
        }
    }

    /// Adam(learning_rate=0.01, amsgrad=True).
    func testAmsgrad() throws {
        var rule = Adam()
        rule.amsgrad = true
        var opt = Optimizer(rule, flavor: .tfKeras, learningRate: 0.01)
        let w = try OptimizerFixture.run(&opt)
        OptimizerFixture.assertClose(w[0], [0.49069201946258545, -1.242685317993164, 1.9853096008300781, -0.025640830397605896])
        OptimizerFixture.assertClose(w[1], [0.0882457047700882, -0.3028735816478729])
        OptimizerFixture.assertClose(opt.slots["vhat"]?[0], [0.0005898899980820715, 0.00010246001329505816, 0.00024982012109830976, 0.012996001169085503])
        OptimizerFixture.assertClose(opt.slots["vhat"]?[1], [0.00424950011074543, 0.002252497710287571])
    }

    /// Adam(learning_rate=0.01, clipnorm=0.5): each gradient clipped to norm 0.5 first.
    func testClipnorm() throws {
        var opt = try Optimizer(className: "Adam", config: ["learning_rate": .double(0.01), "clipnorm": .double(0.5)], flavor: .tfKeras)
        let w = try OptimizerFixture.run(&opt)
        OptimizerFixture.assertClose(w[0], [0.4841611087322235, -1.23246431350708, 1.9795774221420288, -0.025717418640851974], ulps: 16)
        OptimizerFixture.assertClose(w[1], [0.08417847007513046, -0.3020169734954834], ulps: 16)
    }

    /// Keras 2.2's first step by hand: m = 0.1 g, v = 0.001 g², lr_t = lr sqrt(0.001) / 0.1,
    /// so w moves by lr * g / (|g| + eps / sqrt(0.001)): about lr * sign(g).
    func testKeras22FirstStepByHand() throws {
        var opt = try Optimizer(className: "Adam", config: ["lr": .double(0.001), "decay": .double(0)], flavor: .keras22)
        var w = OptimizerFixture.weights
        try opt.step(weights: &w, gradients: OptimizerFixture.gradients[0])
        let g = OptimizerFixture.gradients[0][0].data.map(Double.init)
        let expected = zip(OptimizerFixture.weights[0].data, g).map { Double($0) - 0.001 * $1 / (abs($1) + 1e-7 / 0.001.squareRoot()) }
        OptimizerFixture.assertClose(w[0], expected, ulps: 8)
        XCTAssertEqual(opt.slots["vhat"]?[0].shape, [1], "Keras 2.2 keeps shape-(1,) vhat placeholders")
    }

    /// Keras 2.2 decay: lr / (1 + decay * iterations), iterations counted before the step.
    func testKeras22Decay() throws {
        var opt = try Optimizer(className: "SGD", config: ["lr": .double(0.1), "decay": .double(0.5)], flavor: .keras22)
        var w = [Tensor(shape: [1], data: [0])]
        try opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [1])])
        try opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [1])])
        XCTAssertEqual(w[0].data[0], -0.1 - 0.1 / 1.5, accuracy: 1e-7)
    }

    /// Changing epsilon mid-run keeps m, v and iterations.
    func testChangingEpsilonKeepsState() throws {
        var opt = Optimizer(Adam())
        var w = OptimizerFixture.weights
        try opt.step(weights: &w, gradients: OptimizerFixture.gradients[0])
        let m = opt.slots["m"]
        try opt.set("epsilon", .double(1e-4))
        XCTAssertEqual(opt.slots["m"], m)
        XCTAssertEqual(opt.iterations, 1)
        XCTAssertEqual((opt.rule as? Adam)?.epsilon, 1e-4)
        try opt.set("amsgrad", .bool(true))
        XCTAssertEqual(opt.slots["vhat"]?.map(\.shape), [[4], [2]])
        XCTAssertEqual(opt.slots["m"], m)
    }
}
