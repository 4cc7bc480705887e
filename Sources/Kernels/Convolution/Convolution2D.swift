/// A 2-D convolution algorithm (cross-correlation, as Keras computes it) over a batch of samples
/// laid out contiguously in the geometry's layout. Kernels are given and their gradients returned
/// in Keras's layout (kh, kw, in, out) whatever the image layout.
public protocol Convolution2D: AnyObject {
    var geometry: WindowGeometry { get }
    var filters: Int { get }

    /// `output[b]` = conv(`input[b]`, kernel) + bias.
    func forward(input: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                 bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>)

    /// Gradients of `forward` for the same `input` and `kernel`: adds the kernel gradient into
    /// `gradKernel`, the bias gradient into `gradBias`, and, when `gradInput` is given, overwrites
    /// it with the input gradient. `sameAsLastForward`: the caller guarantees that `input`,
    /// `kernel` and `batch` are exactly what the last `forward` call on this object saw, so an
    /// algorithm may reuse what that call computed from them.
    func backward(input: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                  kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                  gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?,
                  sameAsLastForward: Bool)
}

extension Convolution2D {
    /// `backward` computing everything from its arguments.
    public func backward(input: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?) {
        backward(input: input, gradOutput: dy, batch: batch, kernel: kernel, gradKernel: gradKernel,
                 gradBias: gradBias, gradInput: gradInput, sameAsLastForward: false)
    }

    public var outputCount: Int { filters * geometry.positions }
    public var kernelCount: Int { geometry.patchSize * filters }
}

/// Which algorithm `makeConvolution2D` picks for the networks built from now on: the one with the
/// least work (the default), or always the direct im2col + GEMM one, whose float32 rounding is
/// ~10x smaller than the FFT's or Winograd's (`--convolution direct`: replays that ask whether
/// rounding itself changes the outcome). Set before building a network, never during training.
public enum ConvolutionChoice: String, Sendable, CaseIterable {
    case fastest, direct

    nonisolated(unsafe) public static var current = ConvolutionChoice.fastest
}

/// The algorithm with the least work for this shape: the FFT for large kernels on large
/// outputs with few input channels (the seed's first layer), Winograd F(2, 4) when the output is
/// one 2 x 2 tile (the seed's second layer: 25/64 of the direct products), the paired Winograd
/// transform for other large stride-1 kernels (9/16); then, for channels-last images, oneDNN's
/// compiled direct kernels (ResNet's 3x3 and 1x1 layers, strided or not: 1.5-3x im2col's speed),
/// except where Winograd F(2 x 2, 3 x 3) is ahead of them, stride-1 3x3 kernels on small maps with
/// enough channels to fill its sixteen lanes (4/9 of the products); im2col + GEMM for everything
/// else. Measured with `conv-bench` (docs/PERFORMANCE.md, Stop 13).
public func makeConvolution2D(geometry g: WindowGeometry, filters: Int) -> any Convolution2D {
    if ConvolutionChoice.current == .direct { return Conv2DKernel(geometry: g, filters: filters) }
    // Dilated windows: only im2col gathers them (the transforms assume neighbouring taps).
    if g.isDilated { return Conv2DKernel(geometry: g, filters: filters) }
    let direct = g.positions * g.patchSize * filters
    let winograd = WinogradConv2DKernel.savesWork(g) ? WinogradConv2DKernel.multiplyAdds(g, filters: filters) : nil
    let quad = QuadWinogradConv2DKernel.applies(g) ? QuadWinogradConv2DKernel.multiplyAdds(g, filters: filters) : nil
    let winograd3x3 = Winograd3x3Conv2DKernel.applies(g) ? Winograd3x3Conv2DKernel.multiplyAdds(g, filters: filters) : nil
    let gemmBased = [winograd, quad, winograd3x3, direct].compactMap { $0 }.min()!
    if FFTConv2DKernel.savesWork(g, filters: filters, multiplyAddsElsewhere: gemmBased) {
        return FFTConv2DKernel(geometry: g, filters: filters)
    }
    if let quad, quad == gemmBased, 4 * quad <= 3 * direct { return QuadWinogradConv2DKernel(geometry: g, filters: filters) }
    if Winograd3x3Conv2DKernel.applies(g), g.layout == .nhwc, g.positions <= OneDNNConv2DKernel.mostPositionsForWinograd,
       OneDNNConv2DKernel.compiledImplementation(g, filters: filters, algorithm: .winograd) != nil {
        return OneDNNConv2DKernel(geometry: g, filters: filters, algorithm: .winograd)
    }
    let f23 = winograd3x3.map { $0 == gemmBased && 4 * $0 <= 3 * direct } ?? false
    if !(f23 && g.positions < OneDNNConv2DKernel.fewestPositionsAheadOfWinograd),
       g.kernelHeight <= OneDNNConv2DKernel.largestKernel, g.kernelWidth <= OneDNNConv2DKernel.largestKernel,
       OneDNNConv2DKernel.compiledImplementation(g, filters: filters) != nil {
        return OneDNNConv2DKernel(geometry: g, filters: filters)
    }
    if f23 { return Winograd3x3Conv2DKernel(geometry: g, filters: filters) }
    if winograd != nil { return WinogradConv2DKernel(geometry: g, filters: filters) }
    return Conv2DKernel(geometry: g, filters: filters)
}

/// The batch size of a kernel's last forward while what it computed for the backward is still
/// held; taken (and forgotten) by the backward that follows.
struct KeptForward {
    private var batch: Int?

    /// A forward of `batch` samples left its work for the backward (or, with `kept` false, did not).
    mutating func remember(batch: Int, kept: Bool = true) { self.batch = kept ? batch : nil }

    /// Whether a backward of `batch` samples may reuse that work: its caller vouches that input and
    /// kernel are the forward's, and the batch is the same. Forgotten either way, because the
    /// backward overwrites what was kept.
    mutating func take(batch: Int, callerVouches: Bool) -> Bool {
        defer { self.batch = nil }
        return callerVouches && self.batch == batch
    }
}

/// gradBias[o] += the sum of `dy` over samples and positions for channel o. Channels last: the
/// rows (sample, position) in Double by `ChannelSums`, pieces over the cores (a task per channel
/// striding through every row read the whole gradient once per channel). Channels first: per
/// sample in float (eight lanes), across samples in Double; channels in parallel. The same for
/// every algorithm.
func addConvBiasGradient(_ g: WindowGeometry, filters O: Int, _ dy: UnsafePointer<Float>, batch: Int,
                         sums: inout [Double], into gradBias: UnsafeMutablePointer<Float>) {
    let P = g.positions
    if sums.count < O { sums = [Double](repeating: 0, count: O) }
    sums.withUnsafeMutableBufferPointer { sums in
        let sums = sums.baseAddress!
        switch g.layout {
        case .nhwc:
            ChannelSums(channels: O, inner: 1).sum(dy, outer: batch * P, into: sums)
        case .nchw:
            parallelFor(O, minimumWorkPerItem: batch * P) { o in
                var total: Double = 0
                for s in 0..<batch { total += Double(sumOfFloats(dy + s * P * O + o * P, count: P)) }
                sums[o] = total
            }
        }
    }
    for o in 0..<O { gradBias[o] += Float(sums[o]) }
}

/// The sum of `count` floats, in eight lanes that are added at the end (a fixed order).
@inline(__always)
func sumOfFloats(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= count {
        lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var total = lanes.sum()
    while i < count { total += x[i]; i += 1 }
    return total
}
