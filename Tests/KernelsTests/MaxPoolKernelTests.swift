import ReferenceMath
import XCTest
@testable import Kernels

final class MaxPoolKernelTests: XCTestCase {
    func testForwardAndGradientMatchReference() {
        let cases: [(cf: Bool, c: Int, h: Int, w: Int, p: (Int, Int), s: (Int, Int), same: Bool)] = [
            (true, 2, 6, 5, (2, 2), (2, 2), false),
            (true, 2, 7, 5, (2, 2), (2, 2), true),
            (true, 3, 7, 7, (3, 3), (2, 2), true),
            (false, 2, 6, 5, (2, 2), (2, 2), false),
            (false, 2, 7, 5, (3, 2), (1, 2), true),
            (false, 3, 5, 5, (2, 2), (1, 1), false),
        ]
        for (n, t) in cases.enumerated() {
            let batch = 2
            let img = RefImage(channelsFirst: t.cf, c: t.c, h: t.h, w: t.w)
            let x = randomValues(batch * img.count, seed: UInt64(n) + 1)
            let ref = refMaxPool(x, batch: batch, img: img, ph: t.p.0, pw: t.p.1, strides: t.s, same: t.same)
            let g = WindowGeometry(layout: t.cf ? .nchw : .nhwc, channels: t.c, inHeight: t.h, inWidth: t.w, kernel: t.p, strides: t.s, same: t.same)
            let pool = MaxPoolKernel(geometry: g)
            XCTAssertEqual(pool.outputCount, ref.out.count)
            var y = [Float](repeating: .nan, count: ref.y.count)
            pool.forward(input: x.map(Float.init), batch: batch, output: &y)
            XCTAssertLessThan(relativeError(y.map(Double.init), ref.y), 1e-6, "case \(n)")
            let r = randomValues(ref.y.count, seed: UInt64(n) + 9)
            let fd = finiteDifferences({ dot(r, refMaxPool($0, batch: batch, img: img, ph: t.p.0, pw: t.p.1, strides: t.s, same: t.same).y) }, at: x)
            var dx = [Float](repeating: .nan, count: x.count)
            pool.backward(gradOutput: r.map(Float.init), batch: batch, gradInput: &dx)
            XCTAssertLessThan(relativeError(dx.map(Double.init), fd), 1e-5, "case \(n)")
        }
    }

    func testTiesSendTheGradientToTheFirstMaximumInScanOrder() {
        // One 2x2 window of equal values, then a window whose max appears twice at (0,1) and (1,0).
        let x: [Float] = [1, 1, 0, 3,
                          1, 1, 3, 2]
        let g = WindowGeometry(layout: .nchw, channels: 1, inHeight: 2, inWidth: 4, kernel: (2, 2), strides: (2, 2), same: false)
        let pool = MaxPoolKernel(geometry: g)
        var y = [Float](repeating: 0, count: 2)
        pool.forward(input: x, batch: 1, output: &y)
        XCTAssertEqual(y, [1, 3])
        var dx = [Float](repeating: 9, count: 8)
        pool.backward(gradOutput: [10, 20], batch: 1, gradInput: &dx)
        XCTAssertEqual(dx, [10, 0, 0, 20,
                            0, 0, 0, 0])
    }

    func testSamePaddingNeverPicksThePadding() {
        // All-negative input: -inf padding must not win.
        let x: [Float] = [-5, -4, -3, -2, -1, -6, -7, -8, -9]
        let g = WindowGeometry(layout: .nhwc, channels: 1, inHeight: 3, inWidth: 3, kernel: (2, 2), strides: (2, 2), same: true)
        let pool = MaxPoolKernel(geometry: g)
        var y = [Float](repeating: 0, count: 4)
        pool.forward(input: x, batch: 1, output: &y)
        XCTAssertEqual(y, [-1, -3, -7, -9])
    }
}
