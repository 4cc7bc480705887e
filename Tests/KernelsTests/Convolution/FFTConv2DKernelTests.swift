import ReferenceMath
import XCTest
@testable import Kernels

/// The FFT convolution against Double references: direct convolution for the output, finite
/// differences for the gradients; odd and even sizes (grids of 4 to 32), padding, both layouts,
/// channel counts below, at and above the sixteen lanes of a transform.
final class FFTConv2DKernelTests: XCTestCase {
    typealias Case = ConvCase

    static let cases: [Case] = [
        Case(cf: true, c: 1, h: 12, w: 12, o: 4, kh: 6, kw: 6, s: (1, 1), same: false),
        Case(cf: true, c: 2, h: 9, w: 8, o: 3, kh: 4, kw: 4, s: (1, 1), same: false),
        Case(cf: true, c: 1, h: 7, w: 9, o: 17, kh: 4, kw: 4, s: (1, 1), same: false),    // two output blocks
        Case(cf: true, c: 2, h: 8, w: 7, o: 3, kh: 5, kw: 3, s: (1, 1), same: true),      // odd kernels, padding
        Case(cf: false, c: 2, h: 9, w: 8, o: 3, kh: 4, kw: 4, s: (1, 1), same: false),
        Case(cf: false, c: 17, h: 4, w: 5, o: 3, kh: 2, kw: 2, s: (1, 1), same: false),   // two input blocks
        Case(cf: false, c: 1, h: 6, w: 5, o: 16, kh: 3, kw: 2, s: (1, 1), same: false),   // one full output block
        Case(cf: false, c: 2, h: 7, w: 8, o: 2, kh: 4, kw: 6, s: (1, 1), same: true),     // even kernels, asymmetric pad
        Case(cf: true, c: 1, h: 3, w: 2, o: 5, kh: 1, kw: 1, s: (1, 1), same: false),     // smallest grid
        Case(cf: true, c: 1, h: 17, w: 10, o: 2, kh: 16, kw: 3, s: (1, 1), same: false),  // 32 x 16 grid
    ]

    func testForwardMatchesDirectConvolution() {
        checkForwardMatchesDirectConvolution(Self.cases, seed: 210) { t in [FFTConv2DKernel(geometry: t.geometry, filters: t.o)] }
    }

    func testBackwardMatchesFiniteDifferences() {
        checkBackwardMatchesFiniteDifferences(Self.cases, seed: 240) { t in [FFTConv2DKernel(geometry: t.geometry, filters: t.o)] }
    }

    /// Rounding on the seed's first layer against Double, forward and kernel gradient, bounded
    /// against im2col's so that a change to the transforms cannot silently cost precision.
    func testRoundingOnTheSeedsFirstLayer() {
        let g = WindowGeometry(layout: .nchw, channels: 1, inHeight: 32, inWidth: 32, kernel: (16, 16), strides: (1, 1), same: false)
        let img = RefImage(channelsFirst: true, c: 1, h: 32, w: 32)
        let o = 16, batch = 2
        let x = randomValues(batch * img.count, seed: 1), k = randomValues(16 * 16 * o, seed: 2)
        let ref = refConv(x, batch: batch, img: img, kernel: k, bias: nil, kh: 16, kw: 16, filters: o, strides: (1, 1), same: false).y
        let dy = randomValues(ref.count, seed: 3)
        // dK[u, v, 0, o] = sum over samples and positions of x[n, i + u, j + v] dy[n, o, i, j].
        var refGrad = [Double](repeating: 0, count: k.count)
        for n in 0..<batch { for u in 0..<16 { for v in 0..<16 { for f in 0..<o { for i in 0..<17 { for j in 0..<17 {
            refGrad[(u * 16 + v) * o + f] += x[n * 1024 + (i + u) * 32 + j + v] * dy[((n * o + f) * 17 + i) * 17 + j]
        } } } } } }
        func errors(_ conv: any Convolution2D) -> (Double, Double) {
            var y = [Float](repeating: .nan, count: ref.count), dk = [Float](repeating: 0, count: k.count)
            conv.forward(input: x.map(Float.init), batch: batch, kernel: k.map(Float.init), bias: nil, output: &y)
            conv.backward(input: x.map(Float.init), gradOutput: dy.map(Float.init), batch: batch, kernel: k.map(Float.init),
                          gradKernel: &dk, gradBias: nil, gradInput: nil)
            return (relativeError(y.map(Double.init), ref), relativeError(dk.map(Double.init), refGrad))
        }
        let fft = errors(FFTConv2DKernel(geometry: g, filters: o)), direct = errors(Conv2DKernel(geometry: g, filters: o))
        print("rounding, seed's first layer: FFT \(fft), im2col \(direct)")
        XCTAssertLessThan(fft.0, 1e-6)
        XCTAssertLessThan(fft.1, 1e-6)
        XCTAssertLessThan(fft.0, 4 * direct.0)
        XCTAssertLessThan(fft.1, 4 * direct.1)
    }

    func testWorkerCountsAgreeAndEachIsDeterministic() {
        checkWorkerCountsAgree(Self.cases, batch: 5, workerCounts: [2, 8]) { t, workers in   // 8 > batch
            FFTConv2DKernel(geometry: t.geometry, filters: t.o, workers: workers)
        }
    }
}
