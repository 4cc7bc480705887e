/// Keras's depthwise convolution (`DepthwiseConv2D`, and the first half of `SeparableConv2D`):
/// every input channel c is convolved with its own `multiplier` filters, output channel
/// c * multiplier + m (TensorFlow's `depthwise_conv2d` order). Kernel (kh, kw, channels,
/// multiplier) as Keras stores it. Direct loops, no GEMM: each output reads kh * kw inputs, too
/// little work per value for im2col's copies to pay. Strides, valid/same padding and dilation
/// from the geometry, both layouts.
///
/// Samples are independent in the forward and the input gradient (split over the cores); the
/// kernel gradient is summed per worker over its contiguous range of samples and the partial sums
/// added in worker order, so results depend on the worker count only.
public final class DepthwiseConv2DKernel {
    public let geometry: WindowGeometry
    public let multiplier: Int
    public let workers: Int
    private let partials: [FloatScratch]
    private var biasSums: [Double] = []

    public init(geometry: WindowGeometry, multiplier: Int, workers: Int = kernelWorkers) {
        self.geometry = geometry
        self.multiplier = multiplier
        self.workers = max(1, workers)
        self.partials = (0..<self.workers).map { _ in FloatScratch() }
    }

    /// Output channels: channels * multiplier.
    public var outChannels: Int { geometry.channels * multiplier }
    public var outputCount: Int { outChannels * geometry.positions }
    public var kernelCount: Int { geometry.kernelHeight * geometry.kernelWidth * outChannels }

    /// The output columns ow whose tap at kernel column j reads inside the image.
    @inline(__always)
    private func columns(_ j: Int) -> Range<Int> {
        let g = geometry, off = j * g.dilationW - g.padLeft
        // ow * stride + off in [0, W)
        let lo = off >= 0 ? 0 : (-off + g.strideW - 1) / g.strideW
        let hiIncl = g.inWidth - 1 - off
        let hi = hiIncl < 0 ? 0 : min(g.outWidth, hiIncl / g.strideW + 1)
        return lo..<max(lo, hi)
    }

    @inline(__always)
    private func rows(_ i: Int) -> Range<Int> {
        let g = geometry, off = i * g.dilationH - g.padTop
        let lo = off >= 0 ? 0 : (-off + g.strideH - 1) / g.strideH
        let hiIncl = g.inHeight - 1 - off
        let hi = hiIncl < 0 ? 0 : min(g.outHeight, hiIncl / g.strideH + 1)
        return lo..<max(lo, hi)
    }

    public func forward(input: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let g = geometry, M = multiplier, C = g.channels, CM = C * M, H = g.inHeight, W = g.inWidth
        let OH = g.outHeight, OW = g.outWidth, P = g.positions, kh = g.kernelHeight, kw = g.kernelWidth
        let sh = g.strideH, sw = g.strideW
        parallelFor(batch, minimumWorkPerItem: outputCount * kh * kw) { b in
            let x = input + b * g.inputCount, y = output + b * outputCount
            switch g.layout {
            case .nhwc:
                for p in 0..<P {
                    let o = y + p * CM
                    if let bias { o.update(from: bias, count: CM) } else { o.update(repeating: 0, count: CM) }
                }
                for i in 0..<kh {
                    let rs = rows(i)
                    for j in 0..<kw {
                        let cs = columns(j), k = kernel + (i * kw + j) * CM
                        for oh in rs {
                            let ih = oh * sh - g.padTop + i * g.dilationH
                            for ow in cs {
                                let iw = ow * sw - g.padLeft + j * g.dilationW
                                let xr = x + (ih * W + iw) * C, o = y + (oh * OW + ow) * CM
                                if M == 1 {
                                    for c in 0..<C { o[c] += xr[c] * k[c] }
                                } else {
                                    for c in 0..<C { let v = xr[c]; for m in 0..<M { o[c * M + m] += v * k[c * M + m] } }
                                }
                            }
                        }
                    }
                }
            case .nchw:
                for c in 0..<C {
                    let plane = x + c * H * W
                    for m in 0..<M {
                        let oc = c * M + m, o = y + oc * P
                        o.update(repeating: bias?[oc] ?? 0, count: P)
                        for i in 0..<kh {
                            let rs = rows(i)
                            for j in 0..<kw {
                                let cs = columns(j), kv = kernel[(i * kw + j) * CM + oc]
                                for oh in rs {
                                    let xr = plane + (oh * sh - g.padTop + i * g.dilationH) * W + j * g.dilationW - g.padLeft
                                    let orow = o + oh * OW
                                    if sw == 1 {
                                        for ow in cs { orow[ow] += xr[ow] * kv }
                                    } else {
                                        for ow in cs { orow[ow] += xr[ow * sw] * kv }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        _ = OH
    }

    /// Adds the kernel gradient into `gradKernel` and the bias gradient into `gradBias`;
    /// overwrites `gradInput` with the input gradient when given.
    public func backward(input: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?) {
        guard batch > 0 else { return }
        let g = geometry
        if let gradBias { addConvBiasGradient(g, filters: outChannels, dy, batch: batch, sums: &biasSums, into: gradBias) }
        let n = min(workers, batch), count = kernelCount
        parallelFor(n) { w in
            let gk = partials[w].reserve(count)
            gk.update(repeating: 0, count: count)
            for b in sampleRange(worker: w, of: n, batch: batch) {
                sampleGradients(x: input + b * g.inputCount, dy: dy + b * outputCount, kernel: kernel, gradKernel: gk,
                                gradInput: gradInput.map { $0 + b * g.inputCount })
            }
        }
        let sum = sumOfWorkerPartials(workers: n, count: count) { partials[$0].pointer }
        addVectors(sum, into: gradKernel, count: count)
    }

    private func sampleGradients(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                                 gradKernel gk: UnsafeMutablePointer<Float>, gradInput dx: UnsafeMutablePointer<Float>?) {
        let g = geometry, M = multiplier, C = g.channels, CM = C * M, H = g.inHeight, W = g.inWidth
        let OW = g.outWidth, P = g.positions, kh = g.kernelHeight, kw = g.kernelWidth
        let sh = g.strideH, sw = g.strideW
        dx?.update(repeating: 0, count: g.inputCount)
        switch g.layout {
        case .nhwc:
            for i in 0..<kh {
                let rs = rows(i)
                for j in 0..<kw {
                    let cs = columns(j), k = kernel + (i * kw + j) * CM, gkr = gk + (i * kw + j) * CM
                    for oh in rs {
                        let ih = oh * sh - g.padTop + i * g.dilationH
                        for ow in cs {
                            let iw = ow * sw - g.padLeft + j * g.dilationW
                            let xr = x + (ih * W + iw) * C, d = dy + (oh * OW + ow) * CM
                            if M == 1 {
                                for c in 0..<C { gkr[c] += xr[c] * d[c] }
                                if let dx { let dr = dx + (ih * W + iw) * C; for c in 0..<C { dr[c] += k[c] * d[c] } }
                            } else {
                                for c in 0..<C { let v = xr[c]; for m in 0..<M { gkr[c * M + m] += v * d[c * M + m] } }
                                if let dx {
                                    let dr = dx + (ih * W + iw) * C
                                    for c in 0..<C {
                                        var s: Float = 0
                                        for m in 0..<M { s += k[c * M + m] * d[c * M + m] }
                                        dr[c] += s
                                    }
                                }
                            }
                        }
                    }
                }
            }
        case .nchw:
            for c in 0..<C {
                let plane = x + c * H * W
                for m in 0..<M {
                    let oc = c * M + m, d = dy + oc * P
                    for i in 0..<kh {
                        let rs = rows(i)
                        for j in 0..<kw {
                            let cs = columns(j), t = (i * kw + j) * CM + oc, kv = kernel[t]
                            var acc: Float = 0
                            for oh in rs {
                                let offset = (oh * sh - g.padTop + i * g.dilationH) * W + j * g.dilationW - g.padLeft
                                let xr = plane + offset, drow = d + oh * OW
                                for ow in cs { acc += xr[ow * sw] * drow[ow] }
                                if let dx {
                                    let dr = dx + c * H * W + offset
                                    for ow in cs { dr[ow * sw] += kv * drow[ow] }
                                }
                            }
                            gk[t] += acc
                        }
                    }
                }
            }
        }
    }
}
