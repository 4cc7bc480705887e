import ReferenceMath
import XCTest
@testable import Kernels

final class DenseKernelTests: XCTestCase {
    func testForwardAndBackwardMatchReference() {
        let rows = 4, nIn = 6, nOut = 3
        let x = randomValues(rows * nIn, seed: 1), w = randomValues(nIn * nOut, seed: 2), b = randomValues(nOut, seed: 3)
        var y = [Float](repeating: 0, count: rows * nOut)
        DenseKernel.forward(input: x.map(Float.init), batch: rows, inFeatures: nIn, outFeatures: nOut,
                            kernel: w.map(Float.init), bias: b.map(Float.init), output: &y)
        XCTAssertLessThan(relativeError(y.map(Double.init), refDense(x, rows: rows, nIn: nIn, nOut: nOut, kernel: w, bias: b)), 1e-6)
        let r = randomValues(rows * nOut, seed: 4)
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double { dot(r, refDense(x, rows: rows, nIn: nIn, nOut: nOut, kernel: w, bias: b)) }
        var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: nOut), dx = [Float](repeating: 0, count: x.count)
        DenseKernel.backward(input: x.map(Float.init), gradOutput: r.map(Float.init), batch: rows, inFeatures: nIn, outFeatures: nOut,
                             kernel: w.map(Float.init), gradKernel: &dw, gradBias: &db, gradInput: &dx)
        XCTAssertLessThan(relativeError(dx.map(Double.init), finiteDifferences({ loss($0, w, b) }, at: x)), 1e-5)
        XCTAssertLessThan(relativeError(dw.map(Double.init), finiteDifferences({ loss(x, $0, b) }, at: w)), 1e-5)
        XCTAssertLessThan(relativeError(db.map(Double.init), finiteDifferences({ loss(x, w, $0) }, at: b)), 1e-5)
    }
}
