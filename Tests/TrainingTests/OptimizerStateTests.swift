import KerasFile
import Kernels
@testable import Training
import XCTest

/// The optimizer's state through a Keras file's layout (KerasFile.OptimizerLayout writes the
/// order tf-keras 2.21 lists in `optimizer.variables`) and back.
final class OptimizerStateTests: XCTestCase {
    let names = ["dense/kernel:0", "dense/bias:0"]

    func stepped(_ rule: any UpdateRule, _ flavor: OptimizerFlavor) throws -> Optimizer {
        var opt = Optimizer(rule, flavor: flavor)
        var w = OptimizerFixture.weights
        try opt.step(weights: &w, gradients: OptimizerFixture.gradients[0])
        return opt
    }

    func testTFKerasAdamInterleavesMAndVThenVhat() throws {
        var rule = Adam()
        rule.amsgrad = true
        let saved = OptimizerLayout.write(try stepped(rule, .tfKeras).savedState(), variables: names)
        XCTAssertEqual(saved.map(\.name), [
            "iteration:0", "Adam/m/dense/kernel:0", "Adam/v/dense/kernel:0", "Adam/m/dense/bias:0",
            "Adam/v/dense/bias:0", "Adam/vhat/dense/kernel:0", "Adam/vhat/dense/bias:0",
        ])
        XCTAssertEqual(saved[0].values.int64s(), [1])
    }

    func testRMSpropGroupsByKind() throws {
        var rule = RMSprop()
        rule.momentum = 0.5
        rule.centered = true
        let saved = OptimizerLayout.write(try stepped(rule, .tfKeras).savedState(), variables: names).map(\.name)
        XCTAssertEqual(saved, ["iteration:0", "RMSprop/velocity/dense/kernel:0", "RMSprop/velocity/dense/bias:0",
                               "RMSprop/momentum/dense/kernel:0", "RMSprop/momentum/dense/bias:0",
                               "RMSprop/average_gradient/dense/kernel:0", "RMSprop/average_gradient/dense/bias:0"])
    }

    func testKeras22VhatPlaceholdersAreNotState() throws {
        let state = try stepped(Adam(), .keras22).savedState()
        XCTAssertEqual(Set(state.slots.keys), ["m", "v"])
    }

    /// Save, restore into a fresh optimizer, continue: identical to never stopping.
    func testRoundTripContinuesIdentically() throws {
        for flavor in OptimizerFlavor.allCases {
            var rule = Adam()
            rule.amsgrad = flavor != .keras22
            var straight = Optimizer(rule, flavor: flavor)
            var w = OptimizerFixture.weights
            try straight.step(weights: &w, gradients: OptimizerFixture.gradients[0])
            var resumed = Optimizer(rule, flavor: flavor)
            try resumed.restore(straight.savedState(), shapes: w.map(\.shape))
            XCTAssertEqual(resumed.iterations, 1)
            var w2 = w
            try straight.step(weights: &w, gradients: OptimizerFixture.gradients[1])
            try resumed.step(weights: &w2, gradients: OptimizerFixture.gradients[1])
            XCTAssertEqual(w, w2, "\(flavor)")
            XCTAssertEqual(straight.slots, resumed.slots, "\(flavor)")
        }
    }

    func testRestoreRefusesAWrongShape() throws {
        let saved = try stepped(Adam(), .tfKeras).savedState()
        var other = Optimizer(Adam(), flavor: .tfKeras)
        XCTAssertThrowsError(try other.restore(saved, shapes: [[4], [3]]))
    }
}
