import XCTest
import Kernels
@testable import Training

final class SGDTests: XCTestCase {
    /// SGD(): learning_rate 0.01, no momentum (tf.keras still keeps an `m` slot).
    func testDefaults() throws {
        var opt = Optimizer(SGD(), flavor: .tfKeras)
        let w = try OptimizerFixture.run(&opt)
        OptimizerFixture.assertClose(w[0], [0.49500003457069397, -1.2504000663757324, 2.000999927520752, -0.05000099912285805], ulps: 0)
        OptimizerFixture.assertClose(w[1], [0.11499999463558197, -0.31470000743865967], ulps: 0)
        OptimizerFixture.assertClose(opt.slots["m"]?[0], [-0.00699999975040555, 9.999999747378752e-05, 0.004000000189989805, -0.029999999329447746], ulps: 0)
        XCTAssertNil(Optimizer(SGD(), flavor: .keras3).slots["m"])
    }

    /// SGD(0.1, momentum=0.9) and with nesterov=True; Keras 3 gives the same weights.
    func testMomentumAndNesterov() throws {
        for flavor in [OptimizerFlavor.tfKeras, .keras3] {
            var rule = SGD()
            rule.momentum = 0.9
            var plain = Optimizer(rule, flavor: flavor, learningRate: 0.1)
            let w = try OptimizerFixture.run(&plain)
            OptimizerFixture.assertClose(w[0], [0.45990002155303955, -1.242300033569336, 1.9587000608444214, -0.6800271272659302], ulps: 1)
            OptimizerFixture.assertClose(w[1], [0.16449999809265137, -0.5734500288963318], ulps: 1)
            rule.nesterov = true
            var nesterov = Optimizer(rule, flavor: flavor, learningRate: 0.1)
            let n = try OptimizerFixture.run(&nesterov)
            OptimizerFixture.assertClose(n[0], [0.41391003131866455, -1.2470699548721313, 1.9728299379348755, -1.1120344400405884], ulps: 1)
            OptimizerFixture.assertClose(n[1], [0.3080500066280365, -0.6931049823760986], ulps: 1)
            OptimizerFixture.assertClose(nesterov.slots["m"]?[1], [0.15950000286102295, -0.13295000791549683], ulps: 1)
        }
    }

    /// SGD(0.1, clipvalue=0.25, weight_decay=0.1) and SGD(0.1, global_clipnorm=1.0).
    func testClipvalueWeightDecayAndGlobalClipnorm() throws {
        var opt = try Optimizer(className: "SGD", config: ["learning_rate": .double(0.1), "clipvalue": .double(0.25), "weight_decay": .double(0.1)], flavor: .tfKeras)
        let w = try OptimizerFixture.run(&opt)
        OptimizerFixture.assertClose(w[0], [0.47509852051734924, -1.2170217037200928, 1.9410955905914307, -0.04975980147719383], ulps: 2)
        OptimizerFixture.assertClose(w[1], [0.0975273996591568, -0.31293922662734985], ulps: 2)
        var global = try Optimizer(className: "SGD", config: ["learning_rate": .double(0.1), "global_clipnorm": .double(1)], flavor: .keras3)
        let g = try OptimizerFixture.run(&global)
        OptimizerFixture.assertClose(g[0], [0.4829099476337433, -1.2396095991134644, 1.980826497077942, -0.16024981439113617], ulps: 8)
        OptimizerFixture.assertClose(g[1], [0.10413220524787903, -0.3548224866390228], ulps: 8)
    }
}
