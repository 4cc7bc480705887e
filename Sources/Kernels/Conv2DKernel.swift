/// 2-D convolution (cross-correlation, as Keras computes it) by im2col + one GEMM per chunk of
/// samples, after NNlib.jl's `conv_im2col`: forward, input gradient, and weight gradient
/// accumulated with beta = 1 across the chunks of a batch.
///
/// Kernels are given and their gradients returned in Keras's layout (kh, kw, in, out) whatever
/// the image layout. Internally the im2col rows are (c, i, j) under NCHW, so the kernel is
/// reordered to (in, kh, kw, out) into a buffer this object owns; under NHWC Keras's layout is
/// already the GEMM's (kh * kw * in, out) matrix and is used in place.
///
/// The object owns its scratch buffers (patch matrix, transposes) and grows them only when a
/// larger batch arrives, so the steady state allocates nothing. Patches are built per sample in
/// parallel (each sample writes its own rows); the GEMMs run on oneDNN's threads. Every sum is
/// done in an order fixed by the shapes, so results are deterministic for a given thread count.
public final class Conv2DKernel {
    public let geometry: WindowGeometry
    public let filters: Int
    /// Samples per GEMM: as many as fit `maxPatchFloats` (at least one).
    public let samplesPerChunk: Int

    private var col: [Float] = []
    private var outT: [Float] = []      // NCHW: (chunk * positions, filters) before the transpose
    private var kernelInternal: [Float] = []
    private var gradKernelInternal: [Float] = []
    private var biasSums: [Double] = []

    public init(geometry: WindowGeometry, filters: Int, maxPatchFloats: Int = 1 << 22) {
        self.geometry = geometry
        self.filters = filters
        let perSample = max(1, geometry.positions * geometry.patchSize)
        self.samplesPerChunk = max(1, maxPatchFloats / perSample)
        if geometry.layout == .nchw {
            kernelInternal = [Float](repeating: 0, count: geometry.patchSize * filters)
            gradKernelInternal = kernelInternal
        }
        biasSums = [Double](repeating: 0, count: filters)
    }

    public var outputCount: Int { filters * geometry.positions }
    public var kernelCount: Int { geometry.patchSize * filters }

    private func reserve(samples: Int) {
        let n = min(samples, samplesPerChunk)
        let need = n * geometry.positions * geometry.patchSize
        if col.count < need { col = [Float](repeating: 0, count: need) }
        if geometry.layout == .nchw {
            let needT = n * geometry.positions * filters
            if outT.count < needT { outT = [Float](repeating: 0, count: needT) }
        }
    }

    /// Keras (i, j, c, o) -> internal (c, i, j, o).
    private func reorderKernel(_ kernel: UnsafePointer<Float>) {
        let g = geometry, O = filters, C = g.channels, kh = g.kernelHeight, kw = g.kernelWidth
        kernelInternal.withUnsafeMutableBufferPointer { dst in
            for i in 0..<kh { for j in 0..<kw { for c in 0..<C {
                let s = kernel + ((i * kw + j) * C + c) * O
                let d = dst.baseAddress! + ((c * kh + i) * kw + j) * O
                d.update(from: s, count: O)
            } } }
        }
    }

    /// `output[b]` = conv(`input[b]`, kernel) + bias, for `batch` samples laid out contiguously
    /// (each `geometry.inputCount` values in, `outputCount` out, in the geometry's layout).
    public func forward(input: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let g = geometry, P = g.positions, K = g.patchSize, O = filters
        reserve(samples: batch)
        if g.layout == .nchw { reorderKernel(kernel) }
        kernelInternal.withUnsafeBufferPointer { kbuf in
            let w = g.layout == .nchw ? kbuf.baseAddress! : kernel
            col.withUnsafeMutableBufferPointer { colBuf in
                outT.withUnsafeMutableBufferPointer { tBuf in
                    let colP = colBuf.baseAddress!
                    var b0 = 0
                    while b0 < batch {
                        let nb = min(samplesPerChunk, batch - b0)
                        parallelFor(nb, minimumWorkPerItem: P * K) { s in
                            im2col(g, input: input + (b0 + s) * g.inputCount, col: colP + s * P * K)
                        }
                        switch g.layout {
                        case .nhwc:
                            let out = output + b0 * P * O
                            if let bias {
                                for r in 0..<(nb * P) { (out + r * O).update(from: bias, count: O) }
                            }
                            gemm(m: nb * P, n: O, k: K, a: colP, lda: K, b: w, ldb: O,
                                 beta: bias == nil ? 0 : 1, c: out, ldc: O)
                        case .nchw:
                            let t = tBuf.baseAddress!
                            gemm(m: nb * P, n: O, k: K, a: colP, lda: K, b: w, ldb: O, beta: 0, c: t, ldc: O)
                            for s in 0..<nb {
                                let src = t + s * P * O
                                let dst = output + (b0 + s) * O * P
                                for o in 0..<O {
                                    let bv = bias?[o] ?? 0
                                    let d = dst + o * P
                                    for p in 0..<P { d[p] = src[p * O + o] + bv }
                                }
                            }
                        }
                        b0 += nb
                    }
                }
            }
        }
    }

    /// Gradients of `forward` for the same `input` and `kernel`: adds the kernel gradient (Keras
    /// layout) into `gradKernel`, the bias gradient into `gradBias`, and, when `gradInput` is
    /// given, overwrites it with the input gradient.
    public func backward(input: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?) {
        let g = geometry, P = g.positions, K = g.patchSize, O = filters
        reserve(samples: batch)
        if g.layout == .nchw && gradInput != nil { reorderKernel(kernel) }
        // Bias: per-channel sums in Double, in sample, position order.
        if let gradBias {
            for o in 0..<O { biasSums[o] = 0 }
            biasSums.withUnsafeMutableBufferPointer { sums in
                for s in 0..<batch {
                    let d = dy + s * P * O
                    switch g.layout {
                    case .nhwc:
                        for p in 0..<P { for o in 0..<O { sums[o] += Double(d[p * O + o]) } }
                    case .nchw:
                        for o in 0..<O {
                            var acc: Float = 0
                            for p in 0..<P { acc += d[o * P + p] }
                            sums[o] += Double(acc)
                        }
                    }
                }
            }
            for o in 0..<O { gradBias[o] += Float(biasSums[o]) }
        }
        kernelInternal.withUnsafeBufferPointer { kbuf in
        gradKernelInternal.withUnsafeMutableBufferPointer { gkbuf in
        col.withUnsafeMutableBufferPointer { colBuf in
        outT.withUnsafeMutableBufferPointer { tBuf in
            let colP = colBuf.baseAddress!
            let w = g.layout == .nchw ? kbuf.baseAddress! : kernel
            let gw = g.layout == .nchw ? gkbuf.baseAddress! : gradKernel
            var b0 = 0
            while b0 < batch {
                let nb = min(samplesPerChunk, batch - b0)
                parallelFor(nb, minimumWorkPerItem: P * K) { s in
                    im2col(g, input: input + (b0 + s) * g.inputCount, col: colP + s * P * K)
                }
                // dY as a (chunk * positions, filters) matrix.
                let dyRows: UnsafePointer<Float>
                switch g.layout {
                case .nhwc:
                    dyRows = dy + b0 * P * O
                case .nchw:
                    let t = tBuf.baseAddress!
                    for s in 0..<nb {
                        let src = dy + (b0 + s) * O * P
                        let dst = t + s * P * O
                        for o in 0..<O { for p in 0..<P { dst[p * O + o] = src[o * P + p] } }
                    }
                    dyRows = UnsafePointer(t)
                }
                // dW (K, O) += col^T (K, nb*P) * dY (nb*P, O); under NCHW into the internal
                // buffer, which starts from zero at the first chunk.
                let beta: Float = (g.layout == .nchw && b0 == 0) ? 0 : 1
                gemm(transA: true, m: K, n: O, k: nb * P, a: colP, lda: K, b: dyRows, ldb: O,
                     beta: beta, c: gw, ldc: O)
                if let gradInput {
                    // dcol (nb*P, K) = dY (nb*P, O) * W^T (O, K), then scattered back.
                    gemm(transB: true, m: nb * P, n: K, k: O, a: dyRows, lda: O, b: w, ldb: O,
                         beta: 0, c: colP, ldc: K)
                    parallelFor(nb, minimumWorkPerItem: P * K) { s in
                        col2im(g, col: colP + s * P * K, gradInput: gradInput + (b0 + s) * g.inputCount)
                    }
                }
                b0 += nb
            }
            if g.layout == .nchw && batch > 0 {
                // internal (c, i, j, o) -> Keras (i, j, c, o), accumulated.
                let C = g.channels, kh = g.kernelHeight, kw = g.kernelWidth
                for i in 0..<kh { for j in 0..<kw { for c in 0..<C {
                    let d = gradKernel + ((i * kw + j) * C + c) * O
                    let s = gw + ((c * kh + i) * kw + j) * O
                    for o in 0..<O { d[o] += s[o] }
                } } }
            }
        }
        }
        }
        }
    }
}
