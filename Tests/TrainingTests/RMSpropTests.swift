import XCTest
import Kernels
@testable import Training

final class RMSpropTests: XCTestCase {
    /// RMSprop(): lr 0.001, rho 0.9, epsilon 1e-7.
    func testDefaults() throws {
        for flavor in [OptimizerFlavor.tfKeras, .keras3] {
            var opt = Optimizer(RMSprop(), flavor: flavor)
            let w = try OptimizerFixture.run(&opt)
            OptimizerFixture.assertClose(w[0], [0.4969441294670105, -1.2492505311965942, 1.9994587898254395, -0.006149548105895519])
            OptimizerFixture.assertClose(w[1], [0.09992288053035736, -0.3000434637069702])
            OptimizerFixture.assertClose(opt.slots["velocity"]?[0], [0.057909999042749405, 0.008874999359250069, 0.0232900008559227, 1.2599999904632568])
            XCTAssertEqual(opt.rule.slotKinds(flavor), ["velocity"])
        }
    }

    /// RMSprop(0.01, momentum=0.5, centered=True). tf.keras's last weight is 0.08507522195577621,
    /// Keras 3's 0.08507522940635681: rsqrt against division by sqrt.
    func testCenteredWithMomentum() throws {
        var opt = try Optimizer(className: "RMSprop", config: ["learning_rate": .double(0.01), "momentum": .double(0.5), "centered": .bool(true)], flavor: .tfKeras)
        let w = try OptimizerFixture.run(&opt)
        OptimizerFixture.assertClose(w[0], [0.4581713378429413, -1.228482961654663, 1.9680172204971313, -0.08507522195577621])
        OptimizerFixture.assertClose(w[1], [0.0734967589378357, -0.2919536530971527])
        OptimizerFixture.assertClose(opt.slots["momentum"]?[0], [0.022677283734083176, 0.003229812253266573, -0.018016967922449112, 0.047019511461257935])
        OptimizerFixture.assertClose(opt.slots["average_gradient"]?[1], [-0.15950000286102295, 0.13295000791549683])
        XCTAssertEqual(opt.rule.slotKinds(.tfKeras), ["velocity", "momentum", "average_gradient"])
    }

    /// Keras 2.2: w -= lr g / (sqrt(a) + eps); first step a = 0.1 g², so w moves by lr / sqrt(0.1).
    func testKeras22FormulaByHand() throws {
        var opt = try Optimizer(className: "RMSprop", config: ["lr": .double(0.001), "rho": .double(0.9), "epsilon": .double(1e-7)], flavor: .keras22)
        var w = [Tensor(shape: [1], data: [1])]
        try opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [2])])
        XCTAssertEqual(Double(w[0].data[0]), 1 - 0.001 * 2 / ((0.1 * 4.0).squareRoot() + 1e-7), accuracy: 3e-7)
        XCTAssertThrowsError(try Optimizer(className: "RMSprop", config: ["momentum": .double(0.9)], flavor: .keras22))
    }
}
