import ReferenceMath
import XCTest
@testable import Kernels

final class ActivationKernelTests: XCTestCase {
    func testForwardAndBackwardMatchReference() {
        let rowLength = 5
        let x = randomValues(20, seed: 3).map { $0 * 4 }
        let r = randomValues(20, seed: 4)
        let pairs: [(ActivationKernel, RefActivation)] = [
            (.linear, .linear), (.relu, .relu), (.sigmoid, .sigmoid), (.tanh, .tanh), (.softmax(rowLength: rowLength), .softmax),
        ]
        for (k, ref) in pairs {
            let xf = x.map(Float.init)
            var y = [Float](repeating: 0, count: x.count)
            k.forward(xf, &y, count: x.count)
            XCTAssertLessThan(relativeError(y.map(Double.init), refActivate(x, ref, rowLength: rowLength)), 1e-6, "\(k)")
            let fd = finiteDifferences({ dot(r, refActivate($0, ref, rowLength: rowLength)) }, at: x)
            var dx = [Float](repeating: 0, count: x.count)
            k.backward(input: xf, output: y, gradOutput: r.map(Float.init), gradInput: &dx, count: x.count)
            XCTAssertLessThan(relativeError(dx.map(Double.init), fd), 1e-5, "\(k)")
        }
    }

    func testSoftmaxIsStableForLargeInputs() {
        let x: [Float] = [1000, 1001, 999, -1000]
        var y = [Float](repeating: 0, count: 4)
        ActivationKernel.softmax(rowLength: 4).forward(x, &y, count: 4)
        XCTAssertFalse(y.contains { !$0.isFinite })
        XCTAssertEqual(y.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertGreaterThan(y[1], y[0])
    }
}
