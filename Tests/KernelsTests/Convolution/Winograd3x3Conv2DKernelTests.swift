import ReferenceMath
import XCTest
@testable import Kernels

/// Winograd F(2 x 2, 3 x 3) against Double references: same and valid padding, even and odd
/// output sizes (a last row or column of tiles half outside), both layouts, channel and filter
/// counts below, at and above the sixteen lanes of a transform, one sample per chunk and many.
final class Winograd3x3Conv2DKernelTests: XCTestCase {
    typealias Case = ConvCase

    static let cases: [Case] = [
        Case(cf: false, c: 16, h: 8, w: 8, o: 16, kh: 3, kw: 3, s: (1, 1), same: true),     // ResNet's shape, whole lanes
        Case(cf: false, c: 17, h: 7, w: 5, o: 5, kh: 3, kw: 3, s: (1, 1), same: true),      // odd sizes, two lane groups
        Case(cf: true, c: 3, h: 6, w: 7, o: 20, kh: 3, kw: 3, s: (1, 1), same: true),       // channels first, 20 filters
        Case(cf: false, c: 4, h: 7, w: 6, o: 3, kh: 3, kw: 3, s: (1, 1), same: false),      // valid: 5 x 4 outputs
        Case(cf: true, c: 2, h: 5, w: 5, o: 17, kh: 3, kw: 3, s: (1, 1), same: false),      // valid, 3 x 3 outputs
        Case(cf: false, c: 1, h: 2, w: 3, o: 2, kh: 3, kw: 3, s: (1, 1), same: true),       // smaller than one tile's window
    ]

    /// The default chunks, and one sample per chunk.
    static func kernels(_ t: Case, workers: Int = kernelWorkers) -> [any Convolution2D] {
        [Winograd3x3Conv2DKernel(geometry: t.geometry, filters: t.o, workers: workers),
         Winograd3x3Conv2DKernel(geometry: t.geometry, filters: t.o, maxScratchFloats: 1, workers: workers)]
    }

    func testForwardMatchesDirectConvolution() {
        checkForwardMatchesDirectConvolution(Self.cases, seed: 410) { Self.kernels($0) }
    }

    /// Finite differences on the cases with few values (each value is two Double convolutions);
    /// whole lanes of channels in a smaller image than `cases`' first.
    func testBackwardMatchesFiniteDifferences() {
        let small = [Case(cf: false, c: 16, h: 4, w: 3, o: 2, kh: 3, kw: 3, s: (1, 1), same: true)] + Self.cases.dropFirst()
        checkBackwardMatchesFiniteDifferences(small, seed: 440) { Self.kernels($0) }
    }

    func testBackwardNeedsNoForward() {
        checkBackwardReusesTheForwardOnlyWhenTold(Self.cases) { t in (Winograd3x3Conv2DKernel(geometry: t.geometry, filters: t.o), false) }
    }

    func testWorkerCountsAgreeAndEachIsDeterministic() {
        checkWorkerCountsAgree(Self.cases, batch: 5, workerCounts: [2, 3, 8]) { t, workers in   // 8 > batch
            Winograd3x3Conv2DKernel(geometry: t.geometry, filters: t.o, maxScratchFloats: 1 << 12, workers: workers)
        }
    }

    /// The forward sums nothing across samples: its output is the same bit for bit whatever the
    /// worker count and chunk size.
    func testForwardDoesNotDependOnWorkersOrChunks() {
        for t in Self.cases {
            let batch = 5, g = t.geometry
            let x = randomValues(batch * g.inputCount, seed: 11).map(Float.init)
            let k = randomValues(9 * t.c * t.o, seed: 12).map(Float.init), b = randomValues(t.o, seed: 13).map(Float.init)
            func output(workers: Int, scratch: Int) -> [Float] {
                var y = [Float](repeating: .nan, count: batch * g.positions * t.o)
                Winograd3x3Conv2DKernel(geometry: g, filters: t.o, maxScratchFloats: scratch, workers: workers)
                    .forward(input: x, batch: batch, kernel: k, bias: b, output: &y)
                return y
            }
            let one = output(workers: 1, scratch: 1 << 18)
            XCTAssertEqual(output(workers: 2, scratch: 1 << 18), one)
            XCTAssertEqual(output(workers: 3, scratch: 1), one)
        }
    }

    /// Rounding against Double on ResNet-20's layers (16 channels on 32 x 32, 64 on 8 x 8): the
    /// transforms only add, subtract and halve, so F(2, 3) stays within a small factor of im2col.
    func testRoundingOnResNetLayers() {
        for (c, size) in [(16, 32), (64, 8)] {
            let g = WindowGeometry(layout: .nhwc, channels: c, inHeight: size, inWidth: size, kernel: (3, 3), strides: (1, 1), same: true)
            let img = RefImage(channelsFirst: false, c: c, h: size, w: size)
            let o = c
            let x = randomValues(2 * img.count, seed: 1), k = randomValues(9 * c * o, seed: 2)
            let ref = refConv(x, batch: 2, img: img, kernel: k, bias: nil, kh: 3, kw: 3, filters: o, strides: (1, 1), same: true).y
            func error(_ conv: any Convolution2D) -> Double {
                var y = [Float](repeating: .nan, count: ref.count)
                conv.forward(input: x.map(Float.init), batch: 2, kernel: k.map(Float.init), bias: nil, output: &y)
                return relativeError(y.map(Double.init), ref)
            }
            let winograd = error(Winograd3x3Conv2DKernel(geometry: g, filters: o)), direct = error(Conv2DKernel(geometry: g, filters: o))
            print("rounding, 3x3 \(c)->\(o) on \(size)x\(size): F(2, 3) \(winograd), im2col \(direct)")
            XCTAssertLessThan(winograd, 2e-6)
            XCTAssertLessThan(winograd, 4 * direct)
        }
    }
}
