/// One worker's scratch for `Conv2DKernel`: patch matrix, transposed outputs, and its partial
/// kernel gradient in the GEMM's row order.
final class ConvScratch: @unchecked Sendable {
    let col = FloatScratch()
    let rows = FloatScratch()        // NCHW: (chunk * positions, filters), the GEMM's side of the transpose
    let gradKernel = FloatScratch()
}

/// What one worker does with its range of samples, chunk by chunk (pure functions of the
/// shapes, so a worker's sums never depend on the other workers).
struct ConvPlan {
    let geometry: WindowGeometry
    let filters: Int
    let samplesPerChunk: Int

    func forward(_ ws: ConvScratch, samples: Range<Int>, input: UnsafePointer<Float>, kernel w: UnsafePointer<Float>,
                 bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let g = geometry, P = g.positions, K = g.patchSize, O = filters
        let n = min(samplesPerChunk, samples.count)
        let col = ws.col.reserve(n * P * K)
        let t = g.layout == .nchw ? ws.rows.reserve(n * P * O) : col
        for b0 in chunkStarts(samples, size: samplesPerChunk) {
            let nb = min(samplesPerChunk, samples.upperBound - b0)
            for s in 0..<nb { im2col(g, input: input + (b0 + s) * g.inputCount, col: col + s * P * K) }
            switch g.layout {
            case .nhwc:
                let out = output + b0 * P * O
                if let bias {
                    for r in 0..<(nb * P) { (out + r * O).update(from: bias, count: O) }
                }
                gemm(m: nb * P, n: O, k: K, a: col, lda: K, b: w, ldb: O,
                     beta: bias == nil ? 0 : 1, c: out, ldc: O)
            case .nchw:
                gemm(m: nb * P, n: O, k: K, a: col, lda: K, b: w, ldb: O, beta: 0, c: t, ldc: O)
                for s in 0..<nb {
                    transposeToChannels(t + s * P * O, output + (b0 + s) * O * P, positions: P, bias: bias)
                }
            }
        }
    }

    /// (positions, filters) -> (filters, positions), plus the bias.
    private func transposeToChannels(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                                     positions P: Int, bias: UnsafePointer<Float>?) {
        let O = filters
        for o in 0..<O {
            let bv = bias?[o] ?? 0
            let d = dst + o * P
            for p in 0..<P { d[p] = src[p * O + o] + bv }
        }
    }

    func backward(_ ws: ConvScratch, samples: Range<Int>, input: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
                  kernel w: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?) {
        let g = geometry, P = g.positions, K = g.patchSize, O = filters
        let n = min(samplesPerChunk, samples.count)
        let col = ws.col.reserve(n * P * K)
        let t = g.layout == .nchw ? ws.rows.reserve(n * P * O) : col
        let gw = ws.gradKernel.reserve(K * O)
        for b0 in chunkStarts(samples, size: samplesPerChunk) {
            let nb = min(samplesPerChunk, samples.upperBound - b0)
            for s in 0..<nb { im2col(g, input: input + (b0 + s) * g.inputCount, col: col + s * P * K) }
            // dY as a (chunk * positions, filters) matrix.
            let dyRows: UnsafePointer<Float>
            switch g.layout {
            case .nhwc:
                dyRows = dy + b0 * P * O
            case .nchw:
                for s in 0..<nb { transpose(dy + (b0 + s) * O * P, rows: O, columns: P, into: t + s * P * O) }
                dyRows = UnsafePointer(t)
            }
            // dW (K, O) += col^T (K, nb*P) * dY (nb*P, O), from zero at this worker's first chunk.
            gemm(transA: true, m: K, n: O, k: nb * P, a: col, lda: K, b: dyRows, ldb: O,
                 beta: b0 == samples.lowerBound ? 0 : 1, c: gw, ldc: O)
            if let gradInput {
                // dcol (nb*P, K) = dY (nb*P, O) * W^T (O, K), then scattered back.
                gemm(transB: true, m: nb * P, n: K, k: O, a: dyRows, lda: O, b: w, ldb: O,
                     beta: 0, c: col, ldc: K)
                for s in 0..<nb {
                    col2im(g, col: col + s * P * K, gradInput: gradInput + (b0 + s) * g.inputCount)
                }
            }
        }
    }
}
