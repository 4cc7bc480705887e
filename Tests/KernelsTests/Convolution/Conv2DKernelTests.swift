import ReferenceMath
import XCTest
@testable import Kernels

final class Conv2DKernelTests: XCTestCase {
    typealias Case = ConvCase

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

    func testSamePaddingMatchesTensorFlow() {
        // in 7, k 4, stride 2: out 4, total pad (3*2 + 4 - 7) = 3 -> 1 before, 2 after.
        let r = windowOutput(input: 7, kernel: 4, stride: 2, same: true)
        XCTAssertEqual(r.size, 4); XCTAssertEqual(r.padBefore, 1)
        XCTAssertEqual(windowOutput(input: 32, kernel: 16, stride: 1, same: false).size, 17)
        XCTAssertEqual(windowOutput(input: 5, kernel: 1, stride: 3, same: true).padBefore, 0)
    }

    func testForwardMatchesDirectConvolution() {
        // Small chunks force several GEMMs per batch.
        checkForwardMatchesDirectConvolution(Self.cases, seed: 10) { t in
            [Conv2DKernel(geometry: t.geometry, filters: t.o, maxPatchFloats: 1)]
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        checkBackwardMatchesFiniteDifferences(Self.cases, seed: 40) { t in
            [1, 1 << 22].map { Conv2DKernel(geometry: t.geometry, filters: t.o, maxPatchFloats: $0) }
        }
    }

    func testIm2colThenCol2imIsTheAdjoint() {
        // <im2col(x), c> == <x, col2im(c)> for random x, c.
        for t in Self.cases {
            let g = t.geometry
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
        let conv = Conv2DKernel(geometry: t.geometry, filters: t.o)
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
