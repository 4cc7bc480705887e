import ReferenceMath
import XCTest
@testable import Kernels

/// The batch is split over workers: any worker count gives the same convolution (up to
/// summation order), and a given worker count gives bit-identical results every time.
final class Conv2DWorkersTests: XCTestCase {
    func run(_ t: Conv2DKernelTests.Case, workers: Int, batch: Int) -> [Float] {
        let g = WindowGeometry(layout: t.cf ? .nchw : .nhwc, channels: t.c, inHeight: t.h, inWidth: t.w,
                               kernel: (t.kh, t.kw), strides: t.s, same: t.same)
        // Small chunks: several GEMMs per worker, so the per-worker accumulation is exercised.
        let conv = Conv2DKernel(geometry: g, filters: t.o, maxPatchFloats: 2 * workers * g.positions * g.patchSize,
                                workers: workers)
        let x = randomValues(batch * g.inputCount, seed: 7).map(Float.init)
        let k = randomValues(conv.kernelCount, seed: 8).map(Float.init)
        let b = randomValues(t.o, seed: 9).map(Float.init)
        let dy = randomValues(batch * conv.outputCount, seed: 10).map(Float.init)
        var y = [Float](repeating: .nan, count: batch * conv.outputCount)
        conv.forward(input: x, batch: batch, kernel: k, bias: b, output: &y)
        var dk = [Float](repeating: 0.5, count: k.count), db = [Float](repeating: 0, count: t.o)
        var dx = [Float](repeating: .nan, count: x.count)
        conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db, gradInput: &dx)
        return y + dk + db + dx
    }

    func testWorkerCountsAgreeAndEachIsDeterministic() {
        for t in Conv2DKernelTests.cases {
            let one = run(t, workers: 1, batch: 7)
            for workers in [2, 3, 8] {   // 8 > batch: some workers get no samples
                let many = run(t, workers: workers, batch: 7)
                XCTAssertLessThan(relativeError(many.map(Double.init), one.map(Double.init)), 1e-5, "\(workers) workers")
                XCTAssertEqual(many, run(t, workers: workers, batch: 7), "\(workers) workers, second run")
            }
        }
    }
}
