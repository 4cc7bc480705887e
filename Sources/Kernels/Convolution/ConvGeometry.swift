/// Memory layout of a per-sample image tensor.
public enum ImageLayout: Sendable, Equatable {
    /// (channels, height, width): Keras's channels_first.
    case nchw
    /// (height, width, channels): Keras's channels_last.
    case nhwc
}

/// Output size and leading padding of one spatial axis, as TensorFlow computes them.
/// valid: `out = (in - k) / stride + 1`, no padding (out may be <= 0: the caller rejects it).
/// same: `out = ceil(in / stride)`, total pad `max((out - 1) * stride + k - in, 0)`, of which
/// `total / 2` (floor) goes before and the rest after.
public func windowOutput(input: Int, kernel: Int, stride: Int, same: Bool) -> (size: Int, padBefore: Int) {
    if same {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - input, 0)
        return (out, total / 2)
    }
    if input < kernel { return (0, 0) }
    return ((input - kernel) / stride + 1, 0)
}

/// The shape of a 2-D sliding window over one sample: convolution or pooling.
public struct WindowGeometry: Sendable, Equatable {
    public var layout: ImageLayout
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var outHeight: Int
    public var outWidth: Int
    /// Keras's `dilation_rate`: tap (i, j) reads input (oh * strideH - padTop + i * dilationH, ...).
    /// Only `Conv2DKernel` (im2col) and `DepthwiseConv2DKernel` compute dilated windows;
    /// `makeConvolution2D` picks im2col for them.
    public var dilationH = 1
    public var dilationW = 1

    public init(layout: ImageLayout, channels: Int, inHeight: Int, inWidth: Int,
                kernel: (Int, Int), strides: (Int, Int), same: Bool, dilation: (Int, Int) = (1, 1)) {
        self.layout = layout
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernelHeight = kernel.0
        self.kernelWidth = kernel.1
        self.strideH = strides.0
        self.strideW = strides.1
        self.dilationH = dilation.0
        self.dilationW = dilation.1
        // A dilated kernel covers (k - 1) * d + 1 inputs: TensorFlow sizes and pads for that extent.
        let h = windowOutput(input: inHeight, kernel: (kernel.0 - 1) * dilation.0 + 1, stride: strides.0, same: same)
        let w = windowOutput(input: inWidth, kernel: (kernel.1 - 1) * dilation.1 + 1, stride: strides.1, same: same)
        self.outHeight = h.size
        self.outWidth = w.size
        self.padTop = h.padBefore
        self.padLeft = w.padBefore
    }

    /// Output positions per sample.
    public var positions: Int { outHeight * outWidth }
    /// Values per sample in the input.
    public var inputCount: Int { channels * inHeight * inWidth }
    /// Length of one im2col row: channels * kernel height * kernel width.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    public var isValid: Bool { outHeight > 0 && outWidth > 0 && kernelHeight > 0 && kernelWidth > 0
        && strideH > 0 && strideW > 0 && channels > 0 && dilationH > 0 && dilationW > 0 }
    public var isDilated: Bool { dilationH != 1 || dilationW != 1 }
}

// MARK: - im2col / col2im

/// Writes one sample's patches as a (positions, patchSize) row-major matrix. Each row is the
/// window at one output position (oh, ow), zeros where it hangs over the padding. The order
/// within a row is (c, i, j) under NCHW and (i, j, c) under NHWC, so that the copies run along
/// contiguous input rows.
public func im2col(_ g: WindowGeometry, input x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
    if g.isDilated { return dilatedPatches(g, image: UnsafeMutablePointer(mutating: x), col: col, toColumns: true) }
    let kh = g.kernelHeight, kw = g.kernelWidth, C = g.channels, H = g.inHeight, W = g.inWidth
    let K = g.patchSize
    for oh in 0..<g.outHeight {
        let ih0 = oh * g.strideH - g.padTop
        for ow in 0..<g.outWidth {
            let iw0 = ow * g.strideW - g.padLeft
            let row = col + (oh * g.outWidth + ow) * K
            let fullRow = iw0 >= 0 && iw0 + kw <= W
            switch g.layout {
            case .nchw:
                for c in 0..<C {
                    let plane = x + c * H * W
                    for i in 0..<kh {
                        let dst = row + (c * kh + i) * kw
                        let ih = ih0 + i
                        if ih < 0 || ih >= H {
                            dst.update(repeating: 0, count: kw)
                        } else if fullRow {
                            copyRow(plane + ih * W + iw0, to: dst, count: kw)
                        } else {
                            let src = plane + ih * W
                            for j in 0..<kw {
                                let iw = iw0 + j
                                dst[j] = (iw >= 0 && iw < W) ? src[iw] : 0
                            }
                        }
                    }
                }
            case .nhwc:
                for i in 0..<kh {
                    let dst = row + i * kw * C
                    let ih = ih0 + i
                    if ih < 0 || ih >= H {
                        dst.update(repeating: 0, count: kw * C)
                    } else if fullRow {
                        dst.update(from: x + (ih * W + iw0) * C, count: kw * C)
                    } else {
                        for j in 0..<kw {
                            let iw = iw0 + j
                            if iw >= 0 && iw < W {
                                (dst + j * C).update(from: x + (ih * W + iw) * C, count: C)
                            } else {
                                (dst + j * C).update(repeating: 0, count: C)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every patch value back onto the input position it came from.
/// `dx` is overwritten (zeroed first). Sums run in a fixed order.
public func col2im(_ g: WindowGeometry, col: UnsafePointer<Float>, gradInput dx: UnsafeMutablePointer<Float>) {
    let kh = g.kernelHeight, kw = g.kernelWidth, C = g.channels, H = g.inHeight, W = g.inWidth
    let K = g.patchSize
    dx.update(repeating: 0, count: g.inputCount)
    if g.isDilated { return dilatedPatches(g, image: dx, col: UnsafeMutablePointer(mutating: col), toColumns: false) }
    for oh in 0..<g.outHeight {
        let ih0 = oh * g.strideH - g.padTop
        for ow in 0..<g.outWidth {
            let iw0 = ow * g.strideW - g.padLeft
            let row = col + (oh * g.outWidth + ow) * K
            let jLo = max(0, -iw0), jHi = min(kw, W - iw0)
            if jLo >= jHi { continue }
            switch g.layout {
            case .nchw:
                for c in 0..<C {
                    let plane = dx + c * H * W
                    for i in 0..<kh {
                        let ih = ih0 + i
                        if ih < 0 || ih >= H { continue }
                        let src = row + (c * kh + i) * kw
                        let dst = plane + ih * W + iw0
                        for j in jLo..<jHi { dst[j] += src[j] }
                    }
                }
            case .nhwc:
                for i in 0..<kh {
                    let ih = ih0 + i
                    if ih < 0 || ih >= H { continue }
                    let src = row + i * kw * C
                    let dst = dx + (ih * W + iw0) * C
                    for t in (jLo * C)..<(jHi * C) { dst[t] += src[t] }
                }
            }
        }
    }
}

/// im2col (`toColumns`) or col2im's sums (into a zeroed image) for dilated windows, element by
/// element in the same row order as the undilated paths.
private func dilatedPatches(_ g: WindowGeometry, image: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>, toColumns: Bool) {
    let kh = g.kernelHeight, kw = g.kernelWidth, C = g.channels, H = g.inHeight, W = g.inWidth
    let K = g.patchSize
    for oh in 0..<g.outHeight {
        let ih0 = oh * g.strideH - g.padTop
        for ow in 0..<g.outWidth {
            let iw0 = ow * g.strideW - g.padLeft
            let row = col + (oh * g.outWidth + ow) * K
            for i in 0..<kh {
                let ih = ih0 + i * g.dilationH
                for j in 0..<kw {
                    let iw = iw0 + j * g.dilationW
                    let inside = ih >= 0 && ih < H && iw >= 0 && iw < W
                    for c in 0..<C {
                        let r = g.layout == .nchw ? (c * kh + i) * kw + j : (i * kw + j) * C + c
                        let x = g.layout == .nchw ? (c * H + ih) * W + iw : (ih * W + iw) * C + c
                        if toColumns {
                            row[r] = inside ? image[x] : 0
                        } else if inside {
                            image[x] += row[r]
                        }
                    }
                }
            }
        }
    }
}

/// Copies a short row inline: a call to memmove per kernel row (8 or 16 floats) cost more than
/// the copy itself.
@inline(__always)
func copyRow(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                                                    as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { dst[i] = src[i]; i += 1 }
}
