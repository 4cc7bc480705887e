import ReferenceMath
import XCTest
@testable import Kernels

/// The paired-Winograd convolution against Double references: direct convolution for the
/// output, finite differences for the gradients, on odd and even kernels and outputs, padding,
/// both layouts, and the case where the inner kernel covers the whole pair grid (one GEMM per
/// component, as in the seed's second layer).
final class WinogradConv2DKernelTests: XCTestCase {
    typealias Case = ConvCase

    static let cases: [Case] = [
        Case(cf: true, c: 2, h: 9, w: 8, o: 3, kh: 4, kw: 4, s: (1, 1), same: false),     // even outputs 6x5
        Case(cf: true, c: 1, h: 12, w: 12, o: 4, kh: 6, kw: 6, s: (1, 1), same: false),   // odd outputs 7x7
        Case(cf: true, c: 3, h: 9, w: 9, o: 2, kh: 8, kw: 8, s: (1, 1), same: false),     // 2x2 out: one GEMM per component
        Case(cf: true, c: 2, h: 8, w: 7, o: 3, kh: 5, kw: 3, s: (1, 1), same: true),      // odd kernels, padding
        Case(cf: false, c: 2, h: 9, w: 8, o: 3, kh: 4, kw: 4, s: (1, 1), same: false),
        Case(cf: false, c: 3, h: 9, w: 9, o: 2, kh: 8, kw: 8, s: (1, 1), same: false),
        Case(cf: false, c: 2, h: 7, w: 8, o: 2, kh: 4, kw: 6, s: (1, 1), same: true),     // even kernels, asymmetric pad
        // Nine windows per pair row and nine filters: the eight-wide loops and their tails.
        Case(cf: true, c: 1, h: 6, w: 19, o: 9, kh: 4, kw: 4, s: (1, 1), same: false),
        Case(cf: false, c: 1, h: 4, w: 18, o: 9, kh: 2, kw: 3, s: (1, 1), same: true),
    ]

    func testForwardMatchesDirectConvolution() {
        // One sample per chunk, and the whole batch in one chunk.
        checkForwardMatchesDirectConvolution(Self.cases, seed: 110) { t in
            [1, 1 << 22].map { WinogradConv2DKernel(geometry: t.geometry, filters: t.o, maxScratchFloats: $0) }
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        checkBackwardMatchesFiniteDifferences(Self.cases, seed: 140) { t in
            [1, 1 << 22].map { WinogradConv2DKernel(geometry: t.geometry, filters: t.o, maxScratchFloats: $0) }
        }
    }

    /// Rounding on the seed's two layers against Double. The transforms only add and subtract,
    /// but each of the nine components is a full-size sum and the output adds four of them:
    /// measured 4e-7 (the same as im2col) on the first layer, 2.8e-6 (9x im2col's 3e-7) on the
    /// second. Bounded here so that a change to the transforms cannot silently cost more.
    func testRoundingOnTheSeedsLayers() {
        for (c, h, o) in [(1, 32, 16), (64, 17, 8)] {
            let g = WindowGeometry(layout: .nchw, channels: c, inHeight: h, inWidth: h, kernel: (16, 16), strides: (1, 1), same: false)
            let img = RefImage(channelsFirst: true, c: c, h: h, w: h)
            let x = randomValues(2 * img.count, seed: 1), k = randomValues(16 * 16 * c * o, seed: 2)
            let ref = refConv(x, batch: 2, img: img, kernel: k, bias: nil, kh: 16, kw: 16, filters: o, strides: (1, 1), same: false).y
            func error(_ conv: any Convolution2D) -> Double {
                var y = [Float](repeating: .nan, count: ref.count)
                conv.forward(input: x.map(Float.init), batch: 2, kernel: k.map(Float.init), bias: nil, output: &y)
                return relativeError(y.map(Double.init), ref)
            }
            let direct = error(Conv2DKernel(geometry: g, filters: o)), winograd = error(WinogradConv2DKernel(geometry: g, filters: o))
            print("rounding, \(c) channels: Winograd \(winograd), im2col \(direct)")
            // About twice the measured values: room for another CPU's GEMM kernels to sum in
            // another order, not for a transform with larger coefficients (F(2, 4) measured 26x).
            XCTAssertLessThan(winograd, 6e-6, "\(c) channels")
            XCTAssertLessThan(winograd, 20 * direct, "\(c) channels")
        }
    }

    func testBackwardReusesTheForwardOnlyWhenTold() {
        for scratch in [1, 1 << 22] {
            checkBackwardReusesTheForwardOnlyWhenTold(Self.cases) { t in
                let conv = WinogradConv2DKernel(geometry: t.geometry, filters: t.o, maxScratchFloats: scratch)
                return (conv, conv.samplesPerChunk >= 3)
            }
        }
    }

    func testWorkerCountsAgreeAndEachIsDeterministic() {
        checkWorkerCountsAgree(Self.cases, batch: 5, workerCounts: [2, 8]) { t, workers in   // 8 > batch
            WinogradConv2DKernel(geometry: t.geometry, filters: t.o, maxScratchFloats: 1, workers: workers)
        }
    }
}
