import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class DropoutTests: XCTestCase {
    func testGradientWithAFixedMask() throws {
        let layer = try DropoutLayer(name: "drop", rate: 0.4, config: .object([]), inputShape: [50])
        var rng = SeededGenerator(seed: 1)   // checkLayer draws the mask from this seed
        layer.forward(Tensor(zeros: [2, 50]), training: true, rng: &rng)
        let mask = try XCTUnwrap(layer.lastMask).data.map(Double.init)
        let kept = mask.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.6) < 1e-6 })
        XCTAssertTrue((30...90).contains(kept.count), "\(kept.count) of 100 kept")
        checkLayer(layer, inputShape: [50]) { x, _ in zip(x, mask).map { $0 * $1 } }
    }

    func testIdentityOutsideTraining() throws {
        let layer = try DropoutLayer(name: "drop", rate: 0.5, config: .object([]), inputShape: [10])
        checkLayer(layer, inputShape: [10], training: false) { x, _ in x }
    }

    func testRejectsBadRateAndNoiseShape() {
        XCTAssertThrowsError(try DropoutLayer(name: "d", rate: 1, config: .object([]), inputShape: [3]))
        XCTAssertThrowsError(try DropoutLayer(name: "d", rate: 0.5, config: .object([("noise_shape", .array([.int(1)]))]), inputShape: [3]))
    }
}
