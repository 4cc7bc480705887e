/// Keras's grouped convolution (`Conv2D(groups=G)`, tf_keras/src/layers/convolutional/base_conv.py,
/// keras/src/layers/convolutional/base_conv.py): input channels and filters split into G equal
/// parts, filter part g seeing only channel part g. The kernel is (kh, kw, in / G, out) as Keras
/// stores it, filter part g in columns [g * out/G, (g + 1) * out/G). Each part runs on the
/// ungrouped algorithm chosen for its own shape, over channel slices copied in and out.
public final class GroupedConvolution2D: Convolution2D {
    public let geometry: WindowGeometry
    public let filters: Int
    public let groups: Int
    /// One part's convolution: in / G channels to out / G filters.
    let part: any Convolution2D
    private let input = Scratch<Float>(0, zero: 0)
    private let output = Scratch<Float>(0, zero: 0)
    private let kernel = Scratch<Float>(0, zero: 0)
    private let gradKernel = Scratch<Float>(0, zero: 0)
    private let gradInput = Scratch<Float>(0, zero: 0)

    /// `geometry` is the whole layer's (all input channels); channels and filters must divide by `groups`.
    public init(geometry: WindowGeometry, filters: Int, groups: Int) {
        precondition(groups > 0 && geometry.channels % groups == 0 && filters % groups == 0)
        self.geometry = geometry
        self.filters = filters
        self.groups = groups
        var partGeometry = geometry
        partGeometry.channels = geometry.channels / groups
        self.part = makeConvolution2D(geometry: partGeometry, filters: filters / groups)
    }

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel k: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>) {
        let g = geometry, cg = g.channels / groups, og = filters / groups
        let xs = input.reserve(batch * cg * g.inHeight * g.inWidth)
        let ys = output.reserve(batch * og * g.positions)
        let ks = kernel.reserve(g.kernelHeight * g.kernelWidth * cg * og)
        for part in 0..<groups {
            copyChannels(from: x, channels: g.channels, first: part * cg, to: xs, count: cg,
                         spatial: g.inHeight * g.inWidth, batch: batch, toSlice: true)
            copyColumns(from: k, width: filters, first: part * og, to: ks, count: og,
                        rows: g.kernelHeight * g.kernelWidth * cg, toSlice: true)
            self.part.forward(input: xs, batch: batch, kernel: ks, bias: bias.map { $0 + part * og }, output: ys)
            copyChannels(from: UnsafePointer(ys), channels: filters, first: part * og, to: y, count: og,
                         spatial: g.positions, batch: batch, toSlice: false)
        }
    }

    public func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel k: UnsafePointer<Float>, gradKernel gk: UnsafeMutablePointer<Float>,
                         gradBias gb: UnsafeMutablePointer<Float>?, gradInput dx: UnsafeMutablePointer<Float>?,
                         sameAsLastForward: Bool) {
        let g = geometry, cg = g.channels / groups, og = filters / groups
        let kernelCount = g.kernelHeight * g.kernelWidth * cg * og
        let xs = input.reserve(batch * cg * g.inHeight * g.inWidth)
        let dys = output.reserve(batch * og * g.positions)
        let ks = kernel.reserve(kernelCount)
        let gks = gradKernel.reserve(kernelCount)
        let dxs = dx == nil ? nil : gradInput.reserve(batch * cg * g.inHeight * g.inWidth)
        for part in 0..<groups {
            copyChannels(from: x, channels: g.channels, first: part * cg, to: xs, count: cg,
                         spatial: g.inHeight * g.inWidth, batch: batch, toSlice: true)
            copyChannels(from: dy, channels: filters, first: part * og, to: dys, count: og,
                         spatial: g.positions, batch: batch, toSlice: true)
            copyColumns(from: k, width: filters, first: part * og, to: ks, count: og,
                        rows: g.kernelHeight * g.kernelWidth * cg, toSlice: true)
            gks.update(repeating: 0, count: kernelCount)
            // The part's scratch buffers are refilled per part, so its forward's work is never reused.
            self.part.backward(input: xs, gradOutput: dys, batch: batch, kernel: ks, gradKernel: gks,
                               gradBias: gb.map { $0 + part * og }, gradInput: dxs, sameAsLastForward: false)
            addColumns(gks, width: filters, first: part * og, into: gk, count: og, rows: g.kernelHeight * g.kernelWidth * cg)
            if let dx, let dxs {
                copyChannels(from: UnsafePointer(dxs), channels: g.channels, first: part * cg, to: dx, count: cg,
                             spatial: g.inHeight * g.inWidth, batch: batch, toSlice: false)
            }
        }
    }

    /// Channels [first, first + count) of a batch of `channels`-channel images, to (`toSlice`) or
    /// from a batch of `count`-channel images, in the geometry's layout.
    private func copyChannels(from src: UnsafePointer<Float>, channels: Int, first: Int, to dst: UnsafeMutablePointer<Float>,
                              count: Int, spatial: Int, batch: Int, toSlice: Bool) {
        // Whole: `channels` per image; slice: `count`. Source and destination swap roles on the way back.
        let (srcChannels, dstChannels) = toSlice ? (channels, count) : (count, channels)
        let (srcFirst, dstFirst) = toSlice ? (first, 0) : (0, first)
        switch geometry.layout {
        case .nchw:
            for s in 0..<batch {
                (dst + (s * dstChannels + dstFirst) * spatial)
                    .update(from: src + (s * srcChannels + srcFirst) * spatial, count: count * spatial)
            }
        case .nhwc:
            for p in 0..<(batch * spatial) {
                (dst + p * dstChannels + dstFirst).update(from: src + p * srcChannels + srcFirst, count: count)
            }
        }
    }

    /// Columns [first, first + count) of a `rows` x `width` matrix (the kernel's last axis), to or
    /// from a `rows` x `count` one.
    private func copyColumns(from src: UnsafePointer<Float>, width: Int, first: Int, to dst: UnsafeMutablePointer<Float>,
                             count: Int, rows: Int, toSlice: Bool) {
        for r in 0..<rows {
            if toSlice {
                (dst + r * count).update(from: src + r * width + first, count: count)
            } else {
                (dst + r * width + first).update(from: src + r * count, count: count)
            }
        }
    }

    private func addColumns(_ src: UnsafePointer<Float>, width: Int, first: Int, into dst: UnsafeMutablePointer<Float>,
                            count: Int, rows: Int) {
        for r in 0..<rows {
            for c in 0..<count { dst[r * width + first + c] += src[r * count + c] }
        }
    }
}
