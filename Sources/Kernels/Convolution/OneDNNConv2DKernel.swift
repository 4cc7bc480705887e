import CConvolutionPrimitives

/// 2-D convolution by oneDNN's own convolution primitives (forward, backward data, backward
/// weights): its just-in-time compiled direct kernels read channels-last images in place and the
/// kernel in a blocked layout of their choosing (`CConvolutionPrimitives` reorders Keras's
/// (kh, kw, in, out) kernel to it and the kernel gradient back). On ResNet's 3x3 and 1x1 layers they
/// do the work of im2col + GEMM or Winograd F(2, 3) in a fifth of the time or less (measured in
/// docs/PERFORMANCE.md, Stop 13), because they never materialise patches or transforms.
///
/// Parallelism and determinism as in `Conv2DKernel`: one contiguous range of samples per worker,
/// each worker running its own primitives on its own thread with an OpenMP team of one (oneDNN
/// splits work by the team size it sees when a primitive is made, so the sums inside a primitive
/// depend on the shapes only), kernel-gradient partials added in worker order. Primitives are
/// made per worker and per number of samples on first use and kept (a run sees one or two batch
/// sizes per worker); none is shared between threads, so none is executed concurrently.
public final class OneDNNConv2DKernel: Convolution2D {
    /// oneDNN's direct kernels (channels-last images in place), or its Winograd F(4 x 4, 3 x 3)
    /// for stride-1 3x3 layers (1/4 of the direct products; images reordered to and from its
    /// blocked layout around each call).
    public enum Algorithm: Sendable { case direct, winograd }

    public let geometry: WindowGeometry
    public let filters: Int
    public let workers: Int
    public let algorithm: Algorithm
    private let scratch: [OneDNNWorker]
    private var biasSums: [Double] = []
    /// Input gradients with few input channels go to im2col (see `inputGradientByIm2col`).
    private lazy var im2col = Conv2DKernel(geometry: geometry, filters: filters, workers: workers)
    private let droppedKernelGradient = FloatScratch()

    /// Whether oneDNN computes `g` with a just-in-time compiled kernel, and which: the name of the
    /// forward primitive's implementation ("brgconv:avx512_core", "jit:avx2", ...), nil where it
    /// would fall back to its own im2col + GEMM ("gemm:jit") or reference code, or has no
    /// primitive at all. Channels-last images only: for channels-first ones oneDNN's direct
    /// kernels want blocked images, which would cost a reorder of every input and output.
    /// With `.winograd`: whether oneDNN has its compiled Winograd kernels (AVX-512) for `g`, all
    /// three passes.
    public static func compiledImplementation(_ g: WindowGeometry, filters: Int, algorithm: Algorithm = .direct) -> String? {
        guard g.isValid, g.layout == .nhwc, filters > 0 else { return nil }
        useSingleThreadedGemm()
        var error = [CChar](repeating: 0, count: 256)
        var shape = primitiveShape(g, filters: filters, batch: 32, algorithm: algorithm)
        guard let c = relapse_convolution_create(&shape, &error, error.count) else { return nil }
        defer { relapse_convolution_destroy(c) }
        let passes = algorithm == .winograd ? [relapse_pass_forward, relapse_pass_backward_data, relapse_pass_backward_weights]
                                            : [relapse_pass_forward]
        let names = passes.map { relapse_convolution_implementation(c, Int32($0)).map { String(cString: $0) } }
        guard let name = names[0], names.allSatisfy({ $0 != nil }),
              !name.hasPrefix("gemm"), !name.hasPrefix("ref") else { return nil }
        return name
    }

    /// Winograd F(2, 3) stays ahead of oneDNN's kernels on outputs smaller than this (ResNet's
    /// 64 -> 64 on 8 x 8: 11.9 ms a step against 14.7 ms for 256 samples; level at 16 x 16, oneDNN
    /// twice as fast at 32 x 32; docs/PERFORMANCE.md, Stop 13).
    public static let fewestPositionsAheadOfWinograd = 16 * 16

    /// oneDNN's Winograd F(4 x 4, 3 x 3) takes stride-1 3x3 layers on maps of at most this many
    /// positions where it has them (whole blocks of 16 channels, AVX-512): ResNet's 64 -> 64 on
    /// 8 x 8, ahead of F(2, 3) and of its direct kernels (docs/PERFORMANCE.md, Stop 13).
    public static let mostPositionsForWinograd = 8 * 8

    /// Larger kernels keep the algorithms measured for them (the seed model's 16 x 16: the FFT and
    /// the Winograd transforms); up to ResNet-50's 7 x 7 stem, oneDNN's direct kernels.
    public static let largestKernel = 7

    /// The input gradient goes to im2col below this many input channels: oneDNN's backward-data
    /// kernel for an RGB input (3 channels) took 36 ms per 64 samples of 32 x 32 against im2col's
    /// few (measured; docs/PERFORMANCE.md, Stop 13).
    static let fewestChannelsForInputGradient = 8

    public init(geometry g: WindowGeometry, filters: Int, algorithm: Algorithm = .direct, workers: Int = kernelWorkers) {
        geometry = g
        self.filters = filters
        self.algorithm = algorithm
        self.workers = max(1, workers)
        scratch = (0..<self.workers).map { _ in OneDNNWorker() }
    }

    /// Primitives always add a bias (zeros for a layer without one: adding +0 changes nothing but
    /// the sign of a zero), so one set serves every call.
    static func primitiveShape(_ g: WindowGeometry, filters: Int, batch: Int, algorithm: Algorithm) -> relapse_convolution_shape {
        relapse_convolution_shape(
            batch: Int32(batch), channels: Int32(g.channels), height: Int32(g.inHeight), width: Int32(g.inWidth),
            filters: Int32(filters), out_height: Int32(g.outHeight), out_width: Int32(g.outWidth),
            kernel_height: Int32(g.kernelHeight), kernel_width: Int32(g.kernelWidth),
            stride_height: Int32(g.strideH), stride_width: Int32(g.strideW),
            dilation_height: Int32(g.dilationH), dilation_width: Int32(g.dilationW),
            pad_top: Int32(g.padTop), pad_left: Int32(g.padLeft),
            channels_last: g.layout == .nhwc ? 1 : 0, has_bias: 1, winograd: algorithm == .winograd ? 1 : 0)
    }

    private func primitives(_ ws: OneDNNWorker, batch: Int) -> OpaquePointer {
        useSingleThreadedGemm()
        if let c = ws.primitives[batch] { return c }
        var error = [CChar](repeating: 0, count: 256)
        var shape = Self.primitiveShape(geometry, filters: filters, batch: batch, algorithm: algorithm)
        guard let c = relapse_convolution_create(&shape, &error, error.count) else {
            fatalError("oneDNN convolution for \(geometry), \(filters) filters, batch \(batch): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        ws.primitives[batch] = c
        return c
    }

    private func check(_ status: Int32, _ pass: String, batch: Int) {
        precondition(status == 0, "oneDNN convolution \(pass) failed (status \(status)) for \(geometry), \(filters) filters, batch \(batch)")
    }

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>) {
        guard batch > 0 else { return }
        let inCount = geometry.inputCount, outCount = outputCount
        forEachWorker(scratch, batch: batch) { ws, samples in
            let c = primitives(ws, batch: samples.count)
            let b = bias ?? UnsafePointer(ws.zeroBias.reserve(filters))
            check(relapse_convolution_forward(c, x + samples.lowerBound * inCount, kernel, b,
                                              y + samples.lowerBound * outCount), "forward", batch: samples.count)
        }
    }

    public func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?,
                         sameAsLastForward: Bool) {
        guard batch > 0 else { return }
        if let gradBias { addConvBiasGradient(geometry, filters: filters, dy, batch: batch, sums: &biasSums, into: gradBias) }
        let fewChannels = geometry.channels < Self.fewestChannelsForInputGradient
        if let gradInput, fewChannels {
            // im2col computes a kernel gradient beside the input gradient: into a buffer that is
            // dropped, so the kernel gradient is oneDNN's with or without an input gradient.
            let dropped = droppedKernelGradient.reserve(kernelCount)
            im2col.backward(input: x, gradOutput: dy, batch: batch, kernel: kernel, gradKernel: dropped,
                            gradBias: nil, gradInput: gradInput, sameAsLastForward: false)
        }
        let oneDNNInputGradient = fewChannels ? nil : gradInput
        let inCount = geometry.inputCount, outCount = outputCount, K = kernelCount
        forEachWorker(scratch, batch: batch) { ws, samples in
            let c = primitives(ws, batch: samples.count)
            let xs = x + samples.lowerBound * inCount, dys = dy + samples.lowerBound * outCount
            if let gradInput = oneDNNInputGradient {
                check(relapse_convolution_backward_data(c, dys, kernel, gradInput + samples.lowerBound * inCount),
                      "backward data", batch: samples.count)
            }
            check(relapse_convolution_backward_weights(c, xs, dys, ws.gradKernel.reserve(K)),
                  "backward weights", batch: samples.count)
        }
        let dw = sumOfWorkerPartials(workers: min(workers, batch), count: K) { scratch[$0].gradKernel.pointer }
        addVectors(dw, into: gradKernel, count: K)
    }
}

/// One worker's primitives (by its number of samples) and kernel-gradient partial.
final class OneDNNWorker: @unchecked Sendable {
    var primitives: [Int: OpaquePointer] = [:]
    let gradKernel = FloatScratch()
    /// The bias of a layer without one (a scratch is zero-filled when it grows).
    let zeroBias = FloatScratch()

    deinit { for c in primitives.values { relapse_convolution_destroy(c) } }
}
