import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class ActivationTests: XCTestCase {
    func testEachActivationGradient() {
        for act in ActivationFunction.allCases {
            let layer = ActivationLayer(name: "a", function: act, inputShape: [2, 3, 4])
            checkLayer(layer, inputShape: [2, 3, 4]) { x, _ in refActivate(x, act.ref, rowLength: 4) }
        }
    }
}
