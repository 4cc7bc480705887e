import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class ReshapeFlattenTests: XCTestCase {
    func testReshapeIsARowMajorReshape() throws {
        let layer = try ReshapeLayer(name: "r", targetShape: [4, -1], inputShape: [2, 3, 4])
        XCTAssertEqual(layer.outputShape, [4, 6])
        checkLayer(layer, inputShape: [2, 3, 4]) { x, _ in x }
        XCTAssertThrowsError(try ReshapeLayer(name: "bad", targetShape: [5, -1], inputShape: [2, 3, 4])) {
            XCTAssertTrue("\($0)".contains("bad"))
        }
        XCTAssertThrowsError(try ReshapeLayer(name: "bad", targetShape: [5, 5], inputShape: [2, 3, 4]))
    }

    func testFlattenChannelsFirstGivesHWCOrder() {
        // (C, H, W) = (2, 2, 3), value = 100 c + 10 h + w.
        var x: [Float] = []
        for c in 0..<2 { for h in 0..<2 { for w in 0..<3 { x.append(Float(100 * c + 10 * h + w)) } } }
        let layer = FlattenLayer(name: "f", dataFormat: .channelsFirst, inputShape: [2, 2, 3])
        var rng = SeededGenerator(seed: 0)
        layer.forward(Tensor(shape: [1, 2, 2, 3], data: x), training: false, rng: &rng)
        var expected: [Float] = []
        for h in 0..<2 { for w in 0..<3 { for c in 0..<2 { expected.append(Float(100 * c + 10 * h + w)) } } }
        XCTAssertEqual(layer.output.shape, [1, 12])
        XCTAssertEqual(layer.output.data, expected)
    }

    func testFlattenGradients() {
        let cf = FlattenLayer(name: "f", dataFormat: .channelsFirst, inputShape: [2, 3, 4])
        checkLayer(cf, inputShape: [2, 3, 4]) { x, _ in
            var y = [Double](repeating: 0, count: x.count)
            for b in 0..<2 { for c in 0..<2 { for s in 0..<12 { y[b * 24 + s * 2 + c] = x[b * 24 + c * 12 + s] } } }
            return y
        }
        let cl = FlattenLayer(name: "f", dataFormat: .channelsLast, inputShape: [2, 3, 4])
        checkLayer(cl, inputShape: [2, 3, 4]) { x, _ in x }
    }
}
