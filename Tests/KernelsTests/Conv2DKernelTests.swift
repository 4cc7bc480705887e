import ReferenceMath
import XCTest
@testable import Kernels

final class Conv2DKernelTests: XCTestCase {
    struct Case { var cf: Bool; var c: Int; var h: Int; var w: Int; var o: Int; var kh: Int; var kw: Int; var s: (Int, Int); var same: Bool }

    static let cases: [Case] = [
        Case(cf: true, c: 2, h: 7, w: 6, o: 3, kh: 3, kw: 3, s: (1, 1), same: false),
        Case(cf: true, c: 2, h: 7, w: 6, o: 3, kh: 3, kw: 2, s: (1, 1), same: true),
        Case(cf: true, c: 3, h: 8, w: 7, o: 2, kh: 3, kw: 3, s: (2, 2), same: true),
        Case(cf: true, c: 1, h: 9, w: 8, o: 4, kh: 4, kw: 4, s: (2, 1), same: false),
        Case(cf: false, c: 2, h: 7, w: 6, o: 3, kh: 3, kw: 3, s: (1, 1), same: false),
        Case(cf: false, c: 2, h: 7, w: 6, o: 3, kh: 2, kw: 3, s: (1, 1), same: true),
        Case(cf: false, c: 3, h: 8, w: 7, o: 2, kh: 3, kw: 3, s: (2, 2), same: true),
        Case(cf: false, c: 1, h: 9, w: 8, o: 4, kh: 4, kw: 4, s: (1, 2), same: false),
        Case(cf: false, c: 2, h: 6, w: 6, o: 2, kh: 4, kw: 4, s: (2, 2), same: true),   // even kernel, asymmetric pad
    ]

    func geometry(_ t: Case) -> WindowGeometry {
        WindowGeometry(layout: t.cf ? .nchw : .nhwc, channels: t.c, inHeight: t.h, inWidth: t.w,
                       kernel: (t.kh, t.kw), strides: t.s, same: t.same)
    }

    func testSamePaddingMatchesTensorFlow() {
        // in 7, k 4, stride 2: out 4, total pad (3*2 + 4 - 7) = 3 -> 1 before, 2 after.
        let r = windowOutput(input: 7, kernel: 4, stride: 2, same: true)
        XCTAssertEqual(r.size, 4); XCTAssertEqual(r.padBefore, 1)
        XCTAssertEqual(windowOutput(input: 32, kernel: 16, stride: 1, same: false).size, 17)
        XCTAssertEqual(windowOutput(input: 5, kernel: 1, stride: 3, same: true).padBefore, 0)
    }

    func testForwardMatchesDirectConvolution() {
        for (n, t) in Self.cases.enumerated() {
            let batch = 3
            let img = RefImage(channelsFirst: t.cf, c: t.c, h: t.h, w: t.w)
            let x = randomValues(batch * img.count, seed: UInt64(n) + 10)
            let k = randomValues(t.kh * t.kw * t.c * t.o, seed: UInt64(n) + 20)
            let b = randomValues(t.o, seed: UInt64(n) + 30)
            let ref = refConv(x, batch: batch, img: img, kernel: k, bias: b, kh: t.kh, kw: t.kw, filters: t.o, strides: t.s, same: t.same)
            // Small chunks force several GEMMs per batch.
            let conv = Conv2DKernel(geometry: geometry(t), filters: t.o, maxPatchFloats: 1)
            XCTAssertEqual(conv.outputCount, ref.out.count)
            var y = [Float](repeating: .nan, count: batch * conv.outputCount)
            conv.forward(input: x.map(Float.init), batch: batch, kernel: k.map(Float.init), bias: b.map(Float.init), output: &y)
            XCTAssertLessThan(relativeError(y.map(Double.init), ref.y), 1e-5, "case \(n)")
            // Without bias.
            let refNoBias = refConv(x, batch: batch, img: img, kernel: k, bias: nil, kh: t.kh, kw: t.kw, filters: t.o, strides: t.s, same: t.same)
            conv.forward(input: x.map(Float.init), batch: batch, kernel: k.map(Float.init), bias: nil, output: &y)
            XCTAssertLessThan(relativeError(y.map(Double.init), refNoBias.y), 1e-5, "case \(n) no bias")
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        for (n, t) in Self.cases.enumerated() {
            let batch = 2
            let img = RefImage(channelsFirst: t.cf, c: t.c, h: t.h, w: t.w)
            let x = randomValues(batch * img.count, seed: UInt64(n) + 40)
            let k = randomValues(t.kh * t.kw * t.c * t.o, seed: UInt64(n) + 50)
            let b = randomValues(t.o, seed: UInt64(n) + 60)
            let outCount = refConv(x, batch: batch, img: img, kernel: k, bias: b, kh: t.kh, kw: t.kw, filters: t.o, strides: t.s, same: t.same).y.count
            let r = randomValues(outCount, seed: UInt64(n) + 70)   // L = sum(r * y)
            func loss(_ x: [Double], _ k: [Double], _ b: [Double]) -> Double {
                dot(r, refConv(x, batch: batch, img: img, kernel: k, bias: b, kh: t.kh, kw: t.kw, filters: t.o, strides: t.s, same: t.same).y)
            }
            let gx = finiteDifferences({ loss($0, k, b) }, at: x)
            let gk = finiteDifferences({ loss(x, $0, b) }, at: k)
            let gb = finiteDifferences({ loss(x, k, $0) }, at: b)

            for chunk in [1, 1 << 22] {
                let conv = Conv2DKernel(geometry: geometry(t), filters: t.o, maxPatchFloats: chunk)
                let start: Float = 0.25   // gradients are added to what is there
                var dk = [Float](repeating: start, count: k.count)
                var db = [Float](repeating: start, count: b.count)
                var dx = [Float](repeating: .nan, count: x.count)
                conv.backward(input: x.map(Float.init), gradOutput: r.map(Float.init), batch: batch, kernel: k.map(Float.init),
                              gradKernel: &dk, gradBias: &db, gradInput: &dx)
                XCTAssertLessThan(relativeError(dx.map(Double.init), gx), 1e-4, "case \(n) dx")
                XCTAssertLessThan(relativeError(dk.map { Double($0 - start) }, gk), 1e-4, "case \(n) dk")
                XCTAssertLessThan(relativeError(db.map { Double($0 - start) }, gb), 1e-4, "case \(n) db")
            }
        }
    }

    func testIm2colThenCol2imIsTheAdjoint() {
        // <im2col(x), c> == <x, col2im(c)> for random x, c.
        for t in Self.cases {
            let g = geometry(t)
            let x = randomValues(g.inputCount, seed: 5).map(Float.init)
            let c = randomValues(g.positions * g.patchSize, seed: 6).map(Float.init)
            var col = [Float](repeating: 0, count: c.count)
            var dx = [Float](repeating: 0, count: x.count)
            im2col(g, input: x, col: &col)
            col2im(g, col: c, gradInput: &dx)
            let lhs = zip(col, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, dx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))
        }
    }

    func testDeterministic() {
        let t = Self.cases[2]
        let conv = Conv2DKernel(geometry: geometry(t), filters: t.o)
        let batch = 8
        let x = randomValues(batch * t.c * t.h * t.w, seed: 1).map(Float.init)
        let k = randomValues(t.kh * t.kw * t.c * t.o, seed: 2).map(Float.init)
        let dy = randomValues(batch * conv.outputCount, seed: 3).map(Float.init)
        var runs: [[Float]] = []
        for _ in 0..<2 {
            var dk = [Float](repeating: 0, count: k.count), dx = [Float](repeating: 0, count: x.count)
            conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: nil, gradInput: &dx)
            runs.append(dk + dx)
        }
        XCTAssertEqual(runs[0], runs[1])
    }
}
