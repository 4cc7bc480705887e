import ReferenceMath
import XCTest
@testable import Kernels

/// Winograd F(2, 4) on one 2 x 2 output tile against Double references: kernels that fill whole
/// blocks of four taps and kernels that do not, padding, both layouts, channel counts below, at
/// and above the sixteen lanes of a transform.
final class QuadWinogradConv2DKernelTests: XCTestCase {
    typealias Case = ConvCase

    static let cases: [Case] = [
        Case(cf: true, c: 2, h: 9, w: 9, o: 3, kh: 8, kw: 8, s: (1, 1), same: false),     // 2 x 2 blocks
        Case(cf: true, c: 17, h: 5, w: 4, o: 2, kh: 4, kw: 3, s: (1, 1), same: false),    // partial block, two lane groups
        Case(cf: true, c: 3, h: 2, w: 2, o: 4, kh: 2, kw: 2, s: (1, 1), same: true),      // padding: 2 x 2 same
        Case(cf: false, c: 16, h: 7, w: 6, o: 5, kh: 6, kw: 5, s: (1, 1), same: false),
        Case(cf: false, c: 1, h: 2, w: 2, o: 9, kh: 3, kw: 4, s: (1, 1), same: true),
    ]

    func testForwardMatchesDirectConvolution() {
        checkForwardMatchesDirectConvolution(Self.cases, seed: 310) { t in [QuadWinogradConv2DKernel(geometry: t.geometry, filters: t.o)] }
    }

    func testBackwardMatchesFiniteDifferences() {
        checkBackwardMatchesFiniteDifferences(Self.cases, seed: 340) { t in [QuadWinogradConv2DKernel(geometry: t.geometry, filters: t.o)] }
    }

    func testBackwardReusesTheForwardOnlyWhenTold() {
        checkBackwardReusesTheForwardOnlyWhenTold(Self.cases) { t in (QuadWinogradConv2DKernel(geometry: t.geometry, filters: t.o), true) }
    }

    func testWorkerCountsAgreeAndEachIsDeterministic() {
        checkWorkerCountsAgree(Self.cases, batch: 5, workerCounts: [2, 8]) { t, workers in   // 8 > batch
            QuadWinogradConv2DKernel(geometry: t.geometry, filters: t.o, workers: workers)
        }
    }

    /// Rounding on the seed's second layer against Double: the point 2 and the divisions by 6
    /// cost precision, bounded here against the paired transform and im2col.
    func testRoundingOnTheSeedsSecondLayer() {
        let g = WindowGeometry(layout: .nchw, channels: 64, inHeight: 17, inWidth: 17, kernel: (16, 16), strides: (1, 1), same: false)
        let img = RefImage(channelsFirst: true, c: 64, h: 17, w: 17)
        let o = 8
        let x = randomValues(2 * img.count, seed: 1), k = randomValues(16 * 16 * 64 * o, seed: 2)
        let ref = refConv(x, batch: 2, img: img, kernel: k, bias: nil, kh: 16, kw: 16, filters: o, strides: (1, 1), same: false).y
        func error(_ conv: any Convolution2D) -> Double {
            var y = [Float](repeating: .nan, count: ref.count)
            conv.forward(input: x.map(Float.init), batch: 2, kernel: k.map(Float.init), bias: nil, output: &y)
            return relativeError(y.map(Double.init), ref)
        }
        let quad = error(QuadWinogradConv2DKernel(geometry: g, filters: o))
        let pairs = error(WinogradConv2DKernel(geometry: g, filters: o)), direct = error(Conv2DKernel(geometry: g, filters: o))
        print("rounding, seed's second layer: F(2, 4) \(quad), pairs \(pairs), im2col \(direct)")
        XCTAssertLessThan(quad, 1e-5)
        XCTAssertLessThan(quad, 4 * pairs)
    }
}
