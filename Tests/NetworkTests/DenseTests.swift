import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class DenseTests: XCTestCase {
    func testGradientsForEachActivation() throws {
        for act in ActivationFunction.allCases {
            for bias in [true, false] {
                let layer = try DenseLayer(name: "d", spec: DenseSpec(units: 4, activation: act, useBias: bias), inputShape: [5])
                checkLayer(layer, inputShape: [5], batch: 3) { x, p in
                    refActivate(refDense(x, rows: 3, nIn: 5, nOut: 4, kernel: p[0], bias: bias ? p[1] : nil), act.ref, rowLength: 4)
                }
            }
        }
    }

    func testDenseAppliesToTheLastAxis() throws {
        let layer = try DenseLayer(name: "d", spec: DenseSpec(units: 2), inputShape: [3, 4])
        XCTAssertEqual(layer.outputShape, [3, 2])
        XCTAssertEqual(layer.kernelParam.shape, [4, 2])
        checkLayer(layer, inputShape: [3, 4]) { x, p in refDense(x, rows: 6, nIn: 4, nOut: 2, kernel: p[0], bias: p[1]) }
    }
}
