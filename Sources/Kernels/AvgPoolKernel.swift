/// 2-D average pooling with TensorFlow's semantics (`AvgPool` / `AvgPoolGrad`): a window covers
/// only the input positions inside the image, and the average divides by how many it covers, so
/// 'same' padding averages over valid inputs only. Each window's values are summed in float in
/// row-major (h, w) order and divided once; the gradient spreads dy / count over the window.
public final class AvgPoolKernel {
    public let geometry: WindowGeometry

    public init(geometry: WindowGeometry) {
        self.geometry = geometry
    }

    public var outputCount: Int { geometry.channels * geometry.positions }

    /// The rows and columns window (oh, ow) covers inside the image.
    @inline(__always)
    private func window(_ oh: Int, _ ow: Int) -> (Range<Int>, Range<Int>) {
        let g = geometry
        let h0 = oh * g.strideH - g.padTop, w0 = ow * g.strideW - g.padLeft
        return (max(h0, 0)..<min(h0 + g.kernelHeight, g.inHeight), max(w0, 0)..<min(w0 + g.kernelWidth, g.inWidth))
    }

    public func forward(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        let g = geometry, C = g.channels, H = g.inHeight, W = g.inWidth, outCount = outputCount
        parallelFor(batch, minimumWorkPerItem: g.inputCount) { b in
            let x = input + b * g.inputCount, y = output + b * outCount
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    let (hs, ws) = window(oh, ow)
                    let count = Float(hs.count * ws.count)
                    for c in 0..<C {
                        var sum: Float = 0
                        for h in hs { for w in ws { sum += x[g.layout == .nchw ? (c * H + h) * W + w : (h * W + w) * C + c] } }
                        y[g.layout == .nchw ? c * g.positions + oh * g.outWidth + ow : (oh * g.outWidth + ow) * C + c] = sum / count
                    }
                }
            }
        }
    }

    /// Overwrites `gradInput` with the gradient of `forward`.
    public func backward(gradOutput dy: UnsafePointer<Float>, batch: Int, gradInput dx: UnsafeMutablePointer<Float>) {
        let g = geometry, C = g.channels, H = g.inHeight, W = g.inWidth, outCount = outputCount
        parallelFor(batch, minimumWorkPerItem: g.inputCount) { b in
            let d = dx + b * g.inputCount, gy = dy + b * outCount
            d.update(repeating: 0, count: g.inputCount)
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    let (hs, ws) = window(oh, ow)
                    let count = Float(hs.count * ws.count)
                    for c in 0..<C {
                        let v = gy[g.layout == .nchw ? c * g.positions + oh * g.outWidth + ow : (oh * g.outWidth + ow) * C + c] / count
                        for h in hs { for w in ws { d[g.layout == .nchw ? (c * H + h) * W + w : (h * W + w) * C + c] += v } }
                    }
                }
            }
        }
    }
}
