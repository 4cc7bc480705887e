import ReferenceMath
import XCTest
@testable import Kernels

/// One convolution test case: layout (channels first or last), channels, input size, filters,
/// kernel, strides, padding.
struct ConvCase {
    var cf: Bool, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, s: (Int, Int), same: Bool

    var geometry: WindowGeometry {
        WindowGeometry(layout: cf ? .nchw : .nhwc, channels: c, inHeight: h, inWidth: w,
                       kernel: (kh, kw), strides: s, same: same)
    }
}

// The checks every `Convolution2D` algorithm passes, against Double references. `make` gives
// the kernels to check for a case (one per chunk size, say); `seed` offsets the random data.

/// Output against a direct convolution, with and without bias.
func checkForwardMatchesDirectConvolution(_ cases: [ConvCase], seed: UInt64, make: (ConvCase) -> [any Convolution2D]) {
    for (n, t) in cases.enumerated() {
        let batch = 3
        let img = RefImage(channelsFirst: t.cf, c: t.c, h: t.h, w: t.w)
        let x = randomValues(batch * img.count, seed: UInt64(n) + seed)
        let k = randomValues(t.kh * t.kw * t.c * t.o, seed: UInt64(n) + seed + 10)
        let b = randomValues(t.o, seed: UInt64(n) + seed + 20)
        for bias in [b, nil] {
            let ref = refConv(x, batch: batch, img: img, kernel: k, bias: bias, kh: t.kh, kw: t.kw, filters: t.o, strides: t.s, same: t.same)
            for conv in make(t) {
                XCTAssertEqual(conv.outputCount, ref.y.count / batch)
                var y = [Float](repeating: .nan, count: ref.y.count)
                conv.forward(input: x.map(Float.init), batch: batch, kernel: k.map(Float.init),
                             bias: bias?.map(Float.init), output: &y)
                XCTAssertLessThan(relativeError(y.map(Double.init), ref.y), 1e-5, "case \(n) bias \(bias != nil)")
            }
        }
    }
}

/// Input, kernel and bias gradients against finite differences of L = sum(r * y), added to what
/// the gradient buffers hold; the kernel gradient is the same without the input gradient.
func checkBackwardMatchesFiniteDifferences(_ cases: [ConvCase], seed: UInt64, make: (ConvCase) -> [any Convolution2D]) {
    for (n, t) in cases.enumerated() {
        let batch = 2
        let img = RefImage(channelsFirst: t.cf, c: t.c, h: t.h, w: t.w)
        let x = randomValues(batch * img.count, seed: UInt64(n) + seed)
        let k = randomValues(t.kh * t.kw * t.c * t.o, seed: UInt64(n) + seed + 10)
        let b = randomValues(t.o, seed: UInt64(n) + seed + 20)
        func conv(_ x: [Double], _ k: [Double], _ b: [Double]) -> [Double] {
            refConv(x, batch: batch, img: img, kernel: k, bias: b, kh: t.kh, kw: t.kw, filters: t.o, strides: t.s, same: t.same).y
        }
        let r = randomValues(conv(x, k, b).count, seed: UInt64(n) + seed + 30)
        let gx = finiteDifferences({ dot(r, conv($0, k, b)) }, at: x)
        let gk = finiteDifferences({ dot(r, conv(x, $0, b)) }, at: k)
        let gb = finiteDifferences({ dot(r, conv(x, k, $0)) }, at: b)
        for kernel in make(t) {
            let start: Float = 0.25
            var dk = [Float](repeating: start, count: k.count), db = [Float](repeating: start, count: b.count)
            var dx = [Float](repeating: .nan, count: x.count)
            kernel.backward(input: x.map(Float.init), gradOutput: r.map(Float.init), batch: batch, kernel: k.map(Float.init),
                            gradKernel: &dk, gradBias: &db, gradInput: &dx)
            XCTAssertLessThan(relativeError(dx.map(Double.init), gx), 1e-4, "case \(n) dx")
            XCTAssertLessThan(relativeError(dk.map { Double($0 - start) }, gk), 1e-4, "case \(n) dk")
            XCTAssertLessThan(relativeError(db.map { Double($0 - start) }, gb), 1e-4, "case \(n) db")
            var dk2 = [Float](repeating: start, count: k.count)
            kernel.backward(input: x.map(Float.init), gradOutput: r.map(Float.init), batch: batch, kernel: k.map(Float.init),
                            gradKernel: &dk2, gradBias: nil, gradInput: nil)
            XCTAssertEqual(dk2, dk, "case \(n): the kernel gradient without the input gradient")
        }
    }
}

/// The batch split over `workerCounts` workers agrees with one worker up to summation order,
/// and each worker count gives bit-identical results twice.
func checkWorkerCountsAgree(_ cases: [ConvCase], batch: Int, workerCounts: [Int],
                            make: (ConvCase, _ workers: Int) -> any Convolution2D) {
    func run(_ t: ConvCase, workers: Int) -> [Float] {
        let conv = make(t, workers)
        let x = randomValues(batch * t.geometry.inputCount, seed: 7).map(Float.init)
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
    for t in cases {
        let one = run(t, workers: 1)
        for workers in workerCounts {
            let many = run(t, workers: workers)
            XCTAssertLessThan(relativeError(many.map(Double.init), one.map(Double.init)), 1e-5, "\(workers) workers")
            XCTAssertEqual(many, run(t, workers: workers), "\(workers) workers, second run")
        }
    }
}

/// A backward told that its input and kernel are the last forward's reuses that forward's work
/// (bit-identical to recomputing it), and only then: with another batch size, or without the
/// caller's word, it computes from its arguments. `make` gives a fresh kernel and whether it
/// keeps its forward's work for a batch of 3 (one chunk per worker).
func checkBackwardReusesTheForwardOnlyWhenTold(_ cases: [ConvCase], make: (ConvCase) -> (any Convolution2D, keeps: Bool)) {
    for t in cases {
        let g = t.geometry, batch = 3
        let x = randomValues(batch * g.inputCount, seed: 1).map(Float.init), other = x.map { $0 + 0.5 }
        let k = randomValues(g.patchSize * t.o, seed: 2).map(Float.init)
        let dy = randomValues(batch * g.positions * t.o, seed: 3).map(Float.init)
        func gradients(_ conv: any Convolution2D, input: [Float], batch: Int = batch, same: Bool) -> [Float] {
            var dk = [Float](repeating: 0, count: k.count), db = [Float](repeating: 0, count: t.o)
            var dx = [Float](repeating: .nan, count: batch * g.inputCount)
            conv.backward(input: input, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db,
                          gradInput: &dx, sameAsLastForward: same)
            return dk + db + dx
        }
        func afterForward(batch: Int = batch) -> any Convolution2D {
            let conv = make(t).0
            var y = [Float](repeating: .nan, count: batch * g.positions * t.o)
            conv.forward(input: x, batch: batch, kernel: k, bias: nil, output: &y)
            return conv
        }
        let fresh = gradients(make(t).0, input: x, same: false)
        let otherFresh = gradients(make(t).0, input: other, same: false)
        XCTAssertTrue(gradients(afterForward(), input: x, same: true) == fresh)
        // The caller's word is taken: told "same" for another input, a kernel that keeps its
        // forward's work returns the forward input's gradients, which shows the reuse happens.
        let told = gradients(afterForward(), input: other, same: true)
        if make(t).keeps {
            XCTAssertTrue(told == fresh, "kept: the forward's work")
        } else {
            XCTAssertTrue(told == otherFresh, "nothing kept")
        }
        XCTAssertTrue(gradients(afterForward(), input: other, same: false) == otherFresh)
        XCTAssertTrue(gradients(afterForward(batch: 2), input: x, same: true) == gradients(make(t).0, input: x, same: false),
                      "another batch size")
    }
}
