import ReferenceMath
import XCTest
@testable import Kernels

final class GemmTests: XCTestCase {
    func testGemmMatchesNaiveLoopsForAllTransposes() {
        let m = 7, n = 5, k = 9
        for transA in [false, true] { for transB in [false, true] { for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (2, -0.25)] {
            let a = randomValues(m * k, seed: 1).map(Float.init)
            let b = randomValues(k * n, seed: 2).map(Float.init)
            let c0 = randomValues(m * n, seed: 3).map(Float.init)
            let lda = transA ? m : k, ldb = transB ? k : n
            var c1 = c0, c2 = c0
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c1, ldc: n)
            naiveGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c2, ldc: n)
            for i in 0..<(m * n) { XCTAssertEqual(c1[i], c2[i], accuracy: 1e-5, "transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)") }
        } } }
    }

    func testEmptyInnerDimensionScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [0], b: [Float] = [0]
        gemm(m: 2, n: 2, k: 0, a: a, lda: 1, b: b, ldb: 2, beta: 0.5, c: &c, ldc: 2)
        XCTAssertEqual(c, [0.5, 1, 1.5, 2])
    }
}
