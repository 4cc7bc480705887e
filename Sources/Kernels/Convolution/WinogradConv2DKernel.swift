/// Stride-1 convolution with large kernels by Winograd's F(2, 2) on every pair of kernel taps,
/// along both axes (see `WinogradTransforms` for the formulas).
///
/// Two neighbouring outputs of a two-tap correlation take three products instead of four. A
/// k-tap kernel is ceil(k/2) tap pairs, and tap pair i meets input pair t + i for output pair t,
/// so for each of the 3 x 3 transformed components the sum over tap pairs is itself a valid
/// correlation: a (kh/2, kw/2) kernel over (C, Hs, Ws) images of transformed input pairs. Those
/// nine small convolutions run by im2col + GEMM, or as one GEMM on the images themselves when the
/// kernel covers the whole pair grid (the seed's second layer). Multiply-adds fall to
/// 9 / 16 of the direct ones for even kernels and even outputs. The transforms only add and
/// subtract, so rounding stays that of a direct sum (the tests compare against Double).
///
/// Parallelism and determinism as in `Conv2DKernel`: one contiguous range of samples per worker,
/// single-threaded GEMMs, kernel-gradient partials added in worker order.
public final class WinogradConv2DKernel: Convolution2D {
    public let geometry: WindowGeometry
    public let filters: Int
    public let workers: Int
    /// Samples per chunk within one worker, from `maxScratchFloats`.
    public let samplesPerChunk: Int

    private let transforms: WinogradTransforms
    private var inner: WindowGeometry { transforms.inner }
    private let scratch: [WinogradScratch]
    private let transformedKernel = FloatScratch()
    private let zeros: FloatScratch
    private var biasSums: [Double] = []
    /// The last forward's transformed inputs (in the workers' scratch) and kernel.
    private var keptForward = KeptForward()

    /// Whether this algorithm needs at most 3/4 of im2col's multiply-adds for `g`.
    public static func savesWork(_ g: WindowGeometry) -> Bool {
        guard let winograd = multiplyAdds(g, filters: 1) else { return false }
        return 4 * winograd <= 3 * g.patchSize * g.positions
    }

    /// Multiply-adds per sample and pass, or nil where the algorithm does not apply.
    public static func multiplyAdds(_ g: WindowGeometry, filters: Int) -> Int? {
        guard g.isValid, g.strideH == 1, g.strideW == 1, g.kernelHeight >= 2, g.kernelWidth >= 2 else { return nil }
        let pairs = ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2)
        return 9 * ((g.kernelHeight + 1) / 2) * ((g.kernelWidth + 1) / 2) * pairs * g.channels * filters
    }

    public init(geometry g: WindowGeometry, filters: Int, maxScratchFloats: Int = 1 << 24, workers: Int = kernelWorkers) {
        precondition(g.isValid && g.strideH == 1 && g.strideW == 1, "Winograd convolution needs stride 1")
        self.geometry = g
        self.filters = filters
        self.workers = max(1, workers)
        let t1 = (g.outHeight + 1) / 2, t2 = (g.outWidth + 1) / 2
        let kh2 = (g.kernelHeight + 1) / 2, kw2 = (g.kernelWidth + 1) / 2
        let inner = WindowGeometry(layout: .nchw, channels: g.channels, inHeight: t1 + kh2 - 1, inWidth: t2 + kw2 - 1,
                                   kernel: (kh2, kw2), strides: (1, 1), same: false)
        self.transforms = WinogradTransforms(outer: g, inner: inner, filters: filters)
        let perSample = 9 * inner.inputCount + inner.positions * inner.patchSize + 9 * inner.positions * filters
        // One position per component image: every chunk streams all nine (K2, O) component
        // kernels through the cache, so chunks as large as the scratch allows; otherwise the
        // products should stay in the core's cache until they are combined.
        let budget = inner.positions == 1 ? maxScratchFloats : maxScratchFloats / 8
        self.samplesPerChunk = max(1, budget / self.workers / perSample)
        self.scratch = (0..<self.workers).map { _ in WinogradScratch() }
        self.zeros = FloatScratch(filters)
    }

    /// The inner kernel covers the whole pair grid: each component image is its own im2col row.
    private var patchesAreImages: Bool { inner.positions == 1 }

    private func componentKernels(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let u = transformedKernel.reserve(9 * inner.patchSize * filters)
        transforms.transformKernel(kernel, into: u, zeros: zeros.pointer)
        return UnsafePointer(u)
    }

    /// The patch matrix of component image(s) `v` (nb samples): the images themselves, or their
    /// im2col in `col`.
    private func patches(_ v: UnsafeMutablePointer<Float>, samples nb: Int, col: FloatScratch) -> UnsafeMutablePointer<Float> {
        if patchesAreImages { return v }
        let P = inner.positions, K = inner.patchSize
        let c = col.reserve(nb * P * K)
        for s in 0..<nb { im2col(inner, input: v + s * inner.inputCount, col: c + s * P * K) }
        return c
    }

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        guard batch > 0 else { return }
        let u = componentKernels(kernel)
        let workersUsed = min(workers, batch)
        let largestRange = (batch + workersUsed - 1) / workersUsed   // the longest `sampleRange`
        // Only with one chunk per worker do all of a worker's component images survive the forward.
        keptForward.remember(batch: batch, kept: largestRange <= samplesPerChunk)
        let P = inner.positions, K = inner.patchSize, I = inner.inputCount, O = filters
        let bias = bias ?? UnsafePointer(zeros.pointer)
        forEachWorker(scratch, batch: batch) { ws, samples in
            let padded = ws.padded.reserve(transforms.paddedCount + simdSlack)
            let rows = ws.rows.reserve(outputCount)
            for b0 in chunkStarts(samples, size: samplesPerChunk) {
                let nb = min(samplesPerChunk, samples.upperBound - b0)
                let v = ws.images.reserve(9 * nb * I), m = ws.products.reserve(9 * nb * P * O)
                for s in 0..<nb {
                    transforms.pad(x + (b0 + s) * geometry.inputCount, into: padded)
                    transforms.transformInput(padded, into: v + s * I, componentStride: nb * I)
                }
                for ab in 0..<9 {
                    let a = patches(v + ab * nb * I, samples: nb, col: ws.col)
                    gemm(m: nb * P, n: O, k: K, a: a, lda: K, b: u + ab * K * O, ldb: O, beta: 0,
                         c: m + ab * nb * P * O, ldc: O)
                }
                for s in 0..<nb {
                    transforms.combineOutputs(m + s * P * O, componentStride: nb * P * O, bias: bias,
                                              rows: rows, into: output + (b0 + s) * outputCount)
                }
            }
        }
    }

    public func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?,
                         sameAsLastForward: Bool) {
        guard batch > 0 else { return }
        if let gradBias { addConvBiasGradient(geometry, filters: filters, dy, batch: batch, sums: &biasSums, into: gradBias) }
        // The forward's component images and kernels, when the caller vouches for its input
        // and kernel; the images are overwritten below, by their gradients.
        let reuse = keptForward.take(batch: batch, callerVouches: sameAsLastForward)
        let u = gradInput == nil ? nil : reuse ? UnsafePointer(transformedKernel.pointer) : componentKernels(kernel)
        let P = inner.positions, K = inner.patchSize, I = inner.inputCount, O = filters
        forEachWorker(scratch, batch: batch) { ws, samples in
            let du = ws.gradKernels.reserve(9 * K * O)
            let padded = ws.padded.reserve(transforms.paddedCount + simdSlack)
            let rows = ws.rows.reserve(outputCount)
            for b0 in chunkStarts(samples, size: samplesPerChunk) {
                let nb = min(samplesPerChunk, samples.upperBound - b0)
                let v = ws.images.reserve(9 * nb * I), dm = ws.products.reserve(9 * nb * P * O)
                for s in 0..<nb {
                    if !reuse {
                        transforms.pad(x + (b0 + s) * geometry.inputCount, into: padded)
                        transforms.transformInput(padded, into: v + s * I, componentStride: nb * I)
                    }
                    transforms.gradOutputComponents(dy + (b0 + s) * outputCount, rows: rows,
                                                    into: dm + s * P * O, componentStride: nb * P * O)
                }
                for ab in 0..<9 {
                    let vab = v + ab * nb * I, dmab = dm + ab * nb * P * O
                    let a = patches(vab, samples: nb, col: ws.col)
                    // dU (K, O) += patches^T dM, from zero at this worker's first chunk.
                    gemm(transA: true, m: K, n: O, k: nb * P, a: a, lda: K, b: dmab, ldb: O,
                         beta: b0 == samples.lowerBound ? 0 : 1, c: du + ab * K * O, ldc: O)
                    guard let u else { continue }
                    // The patches are spent: their gradient dM U^T goes in their place, then back
                    // onto the component image.
                    gemm(transB: true, m: nb * P, n: K, k: O, a: dmab, lda: O, b: u + ab * K * O, ldb: O,
                         beta: 0, c: a, ldc: K)
                    if !patchesAreImages {
                        for s in 0..<nb { col2im(inner, col: a + s * P * K, gradInput: vab + s * I) }
                    }
                }
                if let gradInput {
                    for s in 0..<nb {
                        transforms.inputGradient(v + s * I, componentStride: nb * I, padded: padded,
                                                 into: gradInput + (b0 + s) * geometry.inputCount)
                    }
                }
            }
        }
        let du = sumOfWorkerPartials(workers: min(workers, batch), count: 9 * K * O) { scratch[$0].gradKernels.pointer }
        transforms.addKernelGradient(du, into: gradKernel)
    }
}

/// One worker's scratch for `WinogradConv2DKernel`.
final class WinogradScratch: @unchecked Sendable {
    let padded = FloatScratch()       // one sample, zero-padded (C, Hp, Wp), or its gradient
    let rows = FloatScratch()         // one sample's output (or its gradient) as (positions, filters)
    let images = FloatScratch()       // nine component images per sample, component-major
    let col = FloatScratch()          // one component's im2col
    let products = FloatScratch()     // nine (pairs, filters) products (or their gradients) per sample
    let gradKernels = FloatScratch()  // nine (K2, filters) partial kernel gradients
}
