import ReferenceMath
import XCTest
@testable import Kernels

/// oneDNN's convolution primitives against Double references: same and valid padding, strides,
/// 1x1 and 3x3 and 5x5 kernels, channel counts below, at and above its 16-channel blocks, few
/// input channels (whose input gradient goes to im2col), both layouts; dilation against im2col.
final class OneDNNConv2DKernelTests: XCTestCase {
    typealias Case = ConvCase

    static let cases: [Case] = [
        Case(cf: false, c: 16, h: 8, w: 8, o: 16, kh: 3, kw: 3, s: (1, 1), same: true),     // ResNet's blocks
        Case(cf: false, c: 16, h: 9, w: 8, o: 32, kh: 3, kw: 3, s: (2, 2), same: true),     // strided, padding after only
        Case(cf: false, c: 16, h: 8, w: 7, o: 32, kh: 1, kw: 1, s: (2, 2), same: false),    // the projection shortcut
        Case(cf: false, c: 17, h: 7, w: 5, o: 5, kh: 3, kw: 3, s: (1, 1), same: true),      // odd sizes and counts
        Case(cf: false, c: 8, h: 7, w: 6, o: 3, kh: 5, kw: 3, s: (2, 1), same: false),      // valid, leftover input unread
        Case(cf: false, c: 3, h: 6, w: 7, o: 16, kh: 3, kw: 3, s: (1, 1), same: true),      // RGB: input gradient by im2col
        Case(cf: true, c: 4, h: 5, w: 5, o: 9, kh: 3, kw: 3, s: (1, 1), same: true),        // channels first
    ]

    func testForwardMatchesDirectConvolution() {
        checkForwardMatchesDirectConvolution(Self.cases, seed: 610) { [OneDNNConv2DKernel(geometry: $0.geometry, filters: $0.o)] }
    }

    /// Finite differences on smaller images of the same kinds (each value costs two Double
    /// convolutions).
    func testBackwardMatchesFiniteDifferences() {
        let small: [Case] = [
            Case(cf: false, c: 16, h: 4, w: 3, o: 2, kh: 3, kw: 3, s: (1, 1), same: true),
            Case(cf: false, c: 16, h: 5, w: 4, o: 3, kh: 3, kw: 3, s: (2, 2), same: true),
            Case(cf: false, c: 16, h: 4, w: 3, o: 4, kh: 1, kw: 1, s: (2, 2), same: false),
            Case(cf: false, c: 17, h: 3, w: 3, o: 2, kh: 3, kw: 3, s: (1, 1), same: true),
            Case(cf: false, c: 8, h: 6, w: 4, o: 2, kh: 5, kw: 3, s: (2, 1), same: false),
            Case(cf: false, c: 3, h: 4, w: 3, o: 4, kh: 3, kw: 3, s: (1, 1), same: true),
            Case(cf: true, c: 4, h: 4, w: 4, o: 3, kh: 3, kw: 3, s: (1, 1), same: true),
        ]
        checkBackwardMatchesFiniteDifferences(small, seed: 640) { [OneDNNConv2DKernel(geometry: $0.geometry, filters: $0.o)] }
    }

    func testBackwardNeedsNoForward() {
        checkBackwardReusesTheForwardOnlyWhenTold(Self.cases) { t in (OneDNNConv2DKernel(geometry: t.geometry, filters: t.o), false) }
    }

    func testWorkerCountsAgreeAndEachIsDeterministic() {
        checkWorkerCountsAgree(Self.cases, batch: 5, workerCounts: [2, 3, 8]) { t, workers in   // 8 > batch
            OneDNNConv2DKernel(geometry: t.geometry, filters: t.o, workers: workers)
        }
    }

    /// oneDNN's Winograd F(4 x 4, 3 x 3) where this CPU has it (AVX-512): stride-1 3x3 layers on
    /// whole blocks of sixteen channels, same and valid padding, odd sizes (a last tile partly
    /// outside), the images reordered to its blocked layout and back.
    static let winogradCases: [Case] = [
        Case(cf: false, c: 16, h: 8, w: 8, o: 16, kh: 3, kw: 3, s: (1, 1), same: true),
        Case(cf: false, c: 32, h: 7, w: 5, o: 16, kh: 3, kw: 3, s: (1, 1), same: true),
        Case(cf: false, c: 16, h: 6, w: 9, o: 32, kh: 3, kw: 3, s: (1, 1), same: false),
    ]

    func testWinogradMatchesTheReferences() throws {
        let cases = Self.winogradCases.filter {
            OneDNNConv2DKernel.compiledImplementation($0.geometry, filters: $0.o, algorithm: .winograd) != nil
        }
        try XCTSkipIf(cases.isEmpty, "oneDNN has no Winograd kernels on this CPU")
        XCTAssertEqual(cases.count, Self.winogradCases.count, "every case or none")
        checkForwardMatchesDirectConvolution(cases, seed: 710) { [OneDNNConv2DKernel(geometry: $0.geometry, filters: $0.o, algorithm: .winograd)] }
        let small = [Case(cf: false, c: 16, h: 3, w: 4, o: 16, kh: 3, kw: 3, s: (1, 1), same: true),
                     Case(cf: false, c: 16, h: 4, w: 3, o: 16, kh: 3, kw: 3, s: (1, 1), same: false)]
        checkBackwardMatchesFiniteDifferences(small, seed: 740) { [OneDNNConv2DKernel(geometry: $0.geometry, filters: $0.o, algorithm: .winograd)] }
        checkWorkerCountsAgree(cases, batch: 5, workerCounts: [2, 3]) { t, workers in
            OneDNNConv2DKernel(geometry: t.geometry, filters: t.o, algorithm: .winograd, workers: workers)
        }
    }

    /// Rounding against Double on ResNet-20's 64 -> 64 layer on 8 x 8: F(4, 3)'s transforms
    /// multiply by 2, 4 and 8 and divide by up to 24, so it rounds more than direct sums, within a
    /// small factor of F(2, 3).
    func testWinogradRoundingOnResNetLayer() throws {
        let g = WindowGeometry(layout: .nhwc, channels: 64, inHeight: 8, inWidth: 8, kernel: (3, 3), strides: (1, 1), same: true)
        try XCTSkipIf(OneDNNConv2DKernel.compiledImplementation(g, filters: 64, algorithm: .winograd) == nil,
                      "oneDNN has no Winograd kernels on this CPU")
        let img = RefImage(channelsFirst: false, c: 64, h: 8, w: 8)
        let x = randomValues(2 * img.count, seed: 1), k = randomValues(9 * 64 * 64, seed: 2)
        let ref = refConv(x, batch: 2, img: img, kernel: k, bias: nil, kh: 3, kw: 3, filters: 64, strides: (1, 1), same: true).y
        func error(_ conv: any Convolution2D) -> Double {
            var y = [Float](repeating: .nan, count: ref.count)
            conv.forward(input: x.map(Float.init), batch: 2, kernel: k.map(Float.init), bias: nil, output: &y)
            return relativeError(y.map(Double.init), ref)
        }
        let f43 = error(OneDNNConv2DKernel(geometry: g, filters: 64, algorithm: .winograd))
        let f23 = error(Winograd3x3Conv2DKernel(geometry: g, filters: 64)), direct = error(OneDNNConv2DKernel(geometry: g, filters: 64))
        print("rounding, 3x3 64->64 on 8x8: oneDNN F(4, 3) \(f43), F(2, 3) \(f23), oneDNN direct \(direct)")
        XCTAssertLessThan(f43, 2e-6)
        XCTAssertLessThan(f43, 8 * f23)
    }

    /// Dilated windows against im2col (the reference convolution has no dilation), forward and
    /// every gradient.
    func testDilationMatchesIm2col() {
        let g = WindowGeometry(layout: .nhwc, channels: 16, inHeight: 11, inWidth: 9, kernel: (3, 3), strides: (1, 1),
                               same: true, dilation: (2, 3))
        let batch = 3, o = 8
        let x = randomValues(batch * g.inputCount, seed: 1).map(Float.init)
        let k = randomValues(g.patchSize * o, seed: 2).map(Float.init), b = randomValues(o, seed: 3).map(Float.init)
        let dy = randomValues(batch * g.positions * o, seed: 4).map(Float.init)
        func run(_ conv: any Convolution2D) -> [Double] {
            var y = [Float](repeating: .nan, count: batch * g.positions * o)
            conv.forward(input: x, batch: batch, kernel: k, bias: b, output: &y)
            var dk = [Float](repeating: 0, count: k.count), db = [Float](repeating: 0, count: o)
            var dx = [Float](repeating: .nan, count: x.count)
            conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db, gradInput: &dx)
            return (y + dk + db + dx).map(Double.init)
        }
        XCTAssertLessThan(relativeError(run(OneDNNConv2DKernel(geometry: g, filters: o)), run(Conv2DKernel(geometry: g, filters: o))), 1e-5)
    }

    /// The forward sums nothing across samples: its output is the same bit for bit whatever the
    /// worker count (each worker's primitives are made for its number of samples).
    func testForwardDoesNotDependOnWorkers() {
        for t in Self.cases {
            let batch = 5, g = t.geometry
            let x = randomValues(batch * g.inputCount, seed: 11).map(Float.init)
            let k = randomValues(t.kh * t.kw * t.c * t.o, seed: 12).map(Float.init), b = randomValues(t.o, seed: 13).map(Float.init)
            func output(workers: Int) -> [Float] {
                var y = [Float](repeating: .nan, count: batch * g.positions * t.o)
                OneDNNConv2DKernel(geometry: g, filters: t.o, workers: workers).forward(input: x, batch: batch, kernel: k, bias: b, output: &y)
                return y
            }
            let one = output(workers: 1)
            XCTAssertEqual(output(workers: 2), one)
            XCTAssertEqual(output(workers: 3), one)
        }
    }
}
