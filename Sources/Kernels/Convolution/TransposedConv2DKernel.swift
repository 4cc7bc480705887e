/// Keras's Conv2DTranspose (TensorFlow's `conv2d_transpose`): the input gradient of the
/// convolution whose `geometry` maps the transposed layer's output (geometry's input, `channels`
/// = filters) to its input (geometry's output, `inChannels`). Kernel (kh, kw, filters,
/// inChannels) as Keras stores it, which under NHWC is that convolution's (patchSize,
/// inChannels) GEMM matrix. Channels-last only: the layer transposes channels_first images.
///
/// forward: col (P, K) = x (P, in) W^T, then col2im; backward: dx (P, in) = im2col(dy) W and
/// dW += im2col(dy)^T x. One contiguous range of samples per worker, partial kernel gradients
/// added in worker order.
public final class TransposedConv2DKernel {
    public let geometry: WindowGeometry
    public let inChannels: Int
    public let workers: Int
    private let scratch: [ConvScratch]
    private var biasSums: [Double] = []

    public init(geometry: WindowGeometry, inChannels: Int, workers: Int = kernelWorkers) {
        precondition(geometry.layout == .nhwc)
        self.geometry = geometry
        self.inChannels = inChannels
        self.workers = max(1, workers)
        self.scratch = (0..<self.workers).map { _ in ConvScratch() }
    }

    /// Values per sample of the transposed layer's input (the geometry's output) and output.
    public var inputCount: Int { geometry.positions * inChannels }
    public var outputCount: Int { geometry.inputCount }

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel w: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>) {
        let g = geometry, P = g.positions, K = g.patchSize, Ci = inChannels, Co = g.channels
        forEachWorker(scratch, batch: batch) { ws, samples in
            let col = ws.col.reserve(P * K)
            for b in samples {
                gemm(transB: true, m: P, n: K, k: Ci, a: x + b * inputCount, lda: Ci, b: w, ldb: Ci, beta: 0, c: col, ldc: K)
                let out = y + b * outputCount
                col2im(g, col: col, gradInput: out)
                if let bias {
                    for p in 0..<(g.inHeight * g.inWidth) {
                        let o = out + p * Co
                        for c in 0..<Co { o[c] += bias[c] }
                    }
                }
            }
        }
    }

    public func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel w: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?) {
        guard batch > 0 else { return }
        let g = geometry, P = g.positions, K = g.patchSize, Ci = inChannels
        if let gradBias {
            // dy is the geometry's input: its positions are inHeight x inWidth.
            var outer = g
            outer.outHeight = g.inHeight
            outer.outWidth = g.inWidth
            addConvBiasGradient(outer, filters: g.channels, dy, batch: batch, sums: &biasSums, into: gradBias)
        }
        let n = min(workers, batch)
        forEachWorker(scratch, batch: batch) { ws, samples in
            let col = ws.col.reserve(P * K)
            let gw = ws.gradKernel.reserve(K * Ci)
            for b in samples {
                im2col(g, input: dy + b * outputCount, col: col)
                gemm(transA: true, m: K, n: Ci, k: P, a: col, lda: K, b: x + b * inputCount, ldb: Ci,
                     beta: b == samples.lowerBound ? 0 : 1, c: gw, ldc: Ci)
                if let gradInput {
                    gemm(m: P, n: Ci, k: K, a: col, lda: K, b: w, ldb: Ci, beta: 0, c: gradInput + b * inputCount, ldc: Ci)
                }
            }
        }
        let sum = sumOfWorkerPartials(workers: n, count: K * Ci) { scratch[$0].gradKernel.pointer }
        addVectors(sum, into: gradKernel, count: K * Ci)
    }
}
