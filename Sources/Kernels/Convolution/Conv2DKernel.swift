/// 2-D convolution by im2col + GEMM, after NNlib.jl's
/// `conv_im2col`: forward, input gradient, and weight gradient accumulated with beta = 1.
///
/// Kernels are given and their gradients returned in Keras's layout (kh, kw, in, out) whatever
/// the image layout. Internally the im2col rows are (c, i, j) under NCHW, so the kernel is
/// reordered to (in, kh, kw, out) into a buffer this object owns; under NHWC Keras's layout is
/// already the GEMM's (kh * kw * in, out) matrix and is used in place.
///
/// Parallelism: the batch is cut into one contiguous range of samples per worker (core); each
/// worker builds its patches, runs its GEMMs single-threaded and does its transposes, with its
/// own scratch buffers, so the cores never wait on each other inside a layer and nothing is
/// serial between GEMMs. Weight gradients are summed per worker and the partial sums added in
/// worker order. Every sum runs in an order fixed by the shapes and the worker count, so results
/// are bit-identical from run to run for a given worker count. Buffers grow only when a larger
/// batch arrives: the steady state allocates nothing.
public final class Conv2DKernel: Convolution2D {
    public let geometry: WindowGeometry
    public let filters: Int
    /// Samples per GEMM within one worker: as many as fit its share of `maxPatchFloats`. The
    /// default (16 MB of patches in all: 28 and 32 samples per GEMM for the seed's two layers)
    /// measured 75-97 GFLOP/s per core on the seed's GEMMs; 4x larger chunks measured about
    /// half that, and half-size chunks lost 20-40% on the thin input-gradient GEMM.
    public let samplesPerChunk: Int
    /// Workers a batch is split over (the result depends on this number, not on timing).
    public let workers: Int

    private let scratch: [ConvScratch]
    private let kernelInternal = FloatScratch()
    private var biasSums: [Double] = []   // sized by addConvBiasGradient

    public init(geometry: WindowGeometry, filters: Int, maxPatchFloats: Int = 1 << 22, workers: Int = kernelWorkers) {
        self.geometry = geometry
        self.filters = filters
        self.workers = max(1, workers)
        let perSample = max(1, geometry.positions * geometry.patchSize)
        self.samplesPerChunk = max(1, maxPatchFloats / self.workers / perSample)
        self.scratch = (0..<self.workers).map { _ in ConvScratch() }
    }

    /// The GEMM's (patchSize, filters) weight matrix: Keras's kernel itself under NHWC, the
    /// reordered copy (c, i, j, o) under NCHW.
    private func gemmKernel(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let g = geometry
        guard g.layout == .nchw else { return kernel }
        let O = filters, C = g.channels, kh = g.kernelHeight, kw = g.kernelWidth
        let dst = kernelInternal.reserve(kernelCount)
        for i in 0..<kh { for j in 0..<kw { for c in 0..<C {
            (dst + ((c * kh + i) * kw + j) * O).update(from: kernel + ((i * kw + j) * C + c) * O, count: O)
        } } }
        return UnsafePointer(dst)
    }

    public func forward(input: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let w = gemmKernel(kernel)
        let plan = ConvPlan(geometry: geometry, filters: filters, samplesPerChunk: samplesPerChunk)
        forEachWorker(scratch, batch: batch) { ws, samples in
            plan.forward(ws, samples: samples, input: input, kernel: w, bias: bias, output: output)
        }
    }

    public func backward(input: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?,
                         sameAsLastForward: Bool) {
        guard batch > 0 else { return }
        if let gradBias { addConvBiasGradient(geometry, filters: filters, dy, batch: batch, sums: &biasSums, into: gradBias) }
        let w = gradInput == nil ? kernel : gemmKernel(kernel)
        let plan = ConvPlan(geometry: geometry, filters: filters, samplesPerChunk: samplesPerChunk)
        forEachWorker(scratch, batch: batch) { ws, samples in
            plan.backward(ws, samples: samples, input: input, gradOutput: dy, kernel: w, gradInput: gradInput)
        }
        addPartialKernelGradients(workers: min(workers, batch), into: gradKernel)
    }

    /// gradKernel (Keras layout) += the workers' partial sums, added in worker order; rows of
    /// the kernel in parallel.
    private func addPartialKernelGradients(workers n: Int, into gradKernel: UnsafeMutablePointer<Float>) {
        let g = geometry, O = filters, C = g.channels, kh = g.kernelHeight, kw = g.kernelWidth
        // The partials' addresses on the stack: no allocation per step.
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: n) { partials in
            for w in 0..<n { partials[w] = UnsafePointer(scratch[w].gradKernel.pointer) }
            let rows = g.patchSize, rowsPerTask = max(1, rows / (8 * workers))
            parallelFor((rows + rowsPerTask - 1) / rowsPerTask, minimumWorkPerItem: rowsPerTask * O * n) { task in
                for r in (task * rowsPerTask)..<min(rows, (task + 1) * rowsPerTask) {
                    // Keras row r = (i, j, c); the partials are in the GEMM's row order.
                    var internalRow = r
                    if g.layout == .nchw {
                        let c = r % C, ij = r / C, i = ij / kw, j = ij % kw
                        internalRow = (c * kh + i) * kw + j
                    }
                    let d = gradKernel + r * O
                    for o in 0..<O {
                        var sum = partials[0][internalRow * O + o]
                        for w in 1..<n { sum += partials[w][internalRow * O + o] }
                        d[o] += sum
                    }
                }
            }
        }
    }
}
