import ReferenceMath
import XCTest
@testable import Kernels

/// Grouped convolution: filter part g sees channel part g only, with kernel (kh, kw, c / G, o).
final class GroupedConvolution2DTests: XCTestCase {
    /// Double reference: the direct convolution of each channel part with its kernel columns.
    private func refGrouped(_ x: [Double], batch: Int, img: RefImage, kernel: [Double], bias: [Double],
                            kh: Int, kw: Int, filters: Int, groups: Int, strides: (Int, Int), same: Bool) -> [Double] {
        let cg = img.c / groups, og = filters / groups
        let partImage = RefImage(channelsFirst: img.channelsFirst, c: cg, h: img.h, w: img.w)
        var y: [Double] = []
        var out = RefImage(channelsFirst: img.channelsFirst, c: filters, h: 0, w: 0)
        for part in 0..<groups {
            var xs = [Double](repeating: 0, count: batch * partImage.count)
            for b in 0..<batch { for c in 0..<cg { for i in 0..<img.h { for j in 0..<img.w {
                xs[b * partImage.count + partImage.index(c, i, j)] = x[b * img.count + img.index(part * cg + c, i, j)]
            } } } }
            var ks = [Double](repeating: 0, count: kh * kw * cg * og)
            for r in 0..<(kh * kw * cg) { for o in 0..<og { ks[r * og + o] = kernel[r * filters + part * og + o] } }
            let result = refConv(xs, batch: batch, img: partImage, kernel: ks, bias: Array(bias[(part * og)..<((part + 1) * og)]),
                                 kh: kh, kw: kw, filters: og, strides: strides, same: same)
            if y.isEmpty {
                out = RefImage(channelsFirst: img.channelsFirst, c: filters, h: result.out.h, w: result.out.w)
                y = [Double](repeating: 0, count: batch * out.count)
            }
            for b in 0..<batch { for o in 0..<og { for i in 0..<out.h { for j in 0..<out.w {
                y[b * out.count + out.index(part * og + o, i, j)] = result.y[b * result.out.count + result.out.index(o, i, j)]
            } } } }
        }
        return y
    }

    func testForwardAndGradientsAgainstTheReference() {
        let cases: [(cf: Bool, c: Int, o: Int, groups: Int, k: Int, s: (Int, Int), same: Bool)] = [
            (false, 4, 6, 2, 3, (1, 1), false), (true, 4, 6, 2, 3, (1, 1), true),
            (false, 6, 3, 3, 2, (2, 1), true), (true, 8, 8, 4, 3, (1, 2), false),
        ]
        for (n, t) in cases.enumerated() {
            let batch = 2, h = 6, w = 5
            let img = RefImage(channelsFirst: t.cf, c: t.c, h: h, w: w)
            let geometry = WindowGeometry(layout: t.cf ? .nchw : .nhwc, channels: t.c, inHeight: h, inWidth: w,
                                          kernel: (t.k, t.k), strides: t.s, same: t.same)
            let conv = GroupedConvolution2D(geometry: geometry, filters: t.o, groups: t.groups)
            let x = randomValues(batch * img.count, seed: UInt64(n))
            let k = randomValues(t.k * t.k * (t.c / t.groups) * t.o, seed: UInt64(n) + 10)
            let b = randomValues(t.o, seed: UInt64(n) + 20)
            func ref(_ x: [Double], _ k: [Double], _ b: [Double]) -> [Double] {
                refGrouped(x, batch: batch, img: img, kernel: k, bias: b, kh: t.k, kw: t.k, filters: t.o,
                           groups: t.groups, strides: t.s, same: t.same)
            }
            let expected = ref(x, k, b)
            var y = [Float](repeating: .nan, count: expected.count)
            conv.forward(input: x.map(Float.init), batch: batch, kernel: k.map(Float.init), bias: b.map(Float.init), output: &y)
            XCTAssertLessThan(relativeError(y.map(Double.init), expected), 1e-5, "forward, case \(n)")

            let r = randomValues(expected.count, seed: UInt64(n) + 30)
            var dk = [Float](repeating: 0.25, count: k.count), db = [Float](repeating: 0.25, count: b.count)
            var dx = [Float](repeating: .nan, count: x.count)
            conv.backward(input: x.map(Float.init), gradOutput: r.map(Float.init), batch: batch, kernel: k.map(Float.init),
                          gradKernel: &dk, gradBias: &db, gradInput: &dx, sameAsLastForward: true)
            let gx = finiteDifferences({ dot(r, ref($0, k, b)) }, at: x)
            let gk = finiteDifferences({ dot(r, ref(x, $0, b)) }, at: k).map { $0 + 0.25 }
            let gb = finiteDifferences({ dot(r, ref(x, k, $0)) }, at: b).map { $0 + 0.25 }
            XCTAssertLessThan(relativeError(dx.map(Double.init), gx), 1e-4, "input gradient, case \(n)")
            XCTAssertLessThan(relativeError(dk.map(Double.init), gk), 1e-4, "kernel gradient (added), case \(n)")
            XCTAssertLessThan(relativeError(db.map(Double.init), gb), 1e-4, "bias gradient (added), case \(n)")
        }
    }
}
