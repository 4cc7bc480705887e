/// Fully connected layer on a (batch, in) matrix: y = x W + b, with W stored (in, out) as Keras
/// stores it.
public enum DenseKernel {
    public static func forward(input x: UnsafePointer<Float>, batch: Int, inFeatures: Int, outFeatures: Int,
                               kernel w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               output y: UnsafeMutablePointer<Float>) {
        if let bias {
            for r in 0..<batch { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        gemm(m: batch, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: w, ldb: outFeatures,
             beta: bias == nil ? 0 : 1, c: y, ldc: outFeatures)
    }

    /// Adds dW = x^T dy into `gradKernel` and the column sums of dy into `gradBias`; overwrites
    /// `gradInput` with dy W^T when given.
    public static func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                                inFeatures: Int, outFeatures: Int, kernel w: UnsafePointer<Float>,
                                gradKernel: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
                                gradInput: UnsafeMutablePointer<Float>?) {
        gemm(transA: true, m: inFeatures, n: outFeatures, k: batch, a: x, lda: inFeatures, b: dy,
             ldb: outFeatures, beta: 1, c: gradKernel, ldc: outFeatures)
        if let gradBias {
            for o in 0..<outFeatures {
                var s: Double = 0
                for r in 0..<batch { s += Double(dy[r * outFeatures + o]) }
                gradBias[o] += Float(s)
            }
        }
        if let gradInput {
            gemm(transB: true, m: batch, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: w,
                 ldb: outFeatures, beta: 0, c: gradInput, ldc: inFeatures)
        }
    }
}
