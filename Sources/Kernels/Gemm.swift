import CDNNL

/// Row-major single-precision matrix multiply, the one call into the GEMM backend (oneDNN):
/// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape (m, k) and `op(B)` (k, n).
/// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored (before transposition).
/// Runs on the calling thread only (see `useSingleThreadedGemm`): callers parallelise over
/// samples, so results depend on shapes alone and are the same from run to run.
@inlinable
public func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // op(A) op(B) is empty: C = beta * C.
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
        }
        return
    }
    useSingleThreadedGemm()
    let status = dnnl_sgemm(
        CChar(UInt8(ascii: transA ? "T" : "N")), CChar(UInt8(ascii: transB ? "T" : "N")),
        dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb),
        beta, c, dnnl_dim_t(ldc))
    precondition(status == dnnl_success, "dnnl_sgemm failed (status \(status.rawValue)) for m=\(m) n=\(n) k=\(k)")
}

/// The same product computed by plain loops in Swift: a reference for tests and benchmarks.
public func naiveGemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var s: Float = 0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += av * bv
            }
            c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j])
        }
    }
}
