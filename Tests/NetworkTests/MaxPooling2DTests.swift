import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class MaxPooling2DTests: XCTestCase {
    func testGradientsWithAndWithoutPadding() throws {
        let cases: [(Bool, (Int, Int), (Int, Int), Bool)] = [
            (true, (2, 2), (2, 2), false), (true, (3, 3), (2, 2), true),
            (false, (2, 2), (2, 2), true), (false, (3, 2), (1, 1), false),
        ]
        for (cf, pool, strides, same) in cases {
            let (c, h, w) = (2, 7, 5)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try MaxPooling2DLayer(name: "pool", spec: Pooling2DSpec(poolSize: pool, strides: strides, padding: same ? .same : .valid,
                                                                             dataFormat: cf ? .channelsFirst : .channelsLast), inputShape: shape)
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
            checkLayer(layer, inputShape: shape) { x, _ in
                refMaxPool(x, batch: 2, img: img, ph: pool.0, pw: pool.1, strides: strides, same: same).y
            }
        }
    }

    func testShapes() throws {
        let l = try MaxPooling2DLayer(name: "p", spec: Pooling2DSpec(poolSize: (2, 2), strides: (2, 2), padding: .same, dataFormat: .channelsFirst), inputShape: [3, 5, 5])
        XCTAssertEqual(l.outputShape, [3, 3, 3])
    }
}
