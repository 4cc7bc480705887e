/// 2-D max pooling with TensorFlow's semantics (tf.keras runs channels_first pooling on CPU by
/// transposing to NHWC, so both layouts share them): a window covers only the input positions
/// inside the image ('same' padding acts as -infinity), the forward value is the window's
/// maximum, and the gradient goes to the first maximum in the window's row-major (h, then w)
/// scan, a later element replacing it only when strictly greater
/// (`SpatialMaxPoolWithArgMaxHelper` in tensorflow/core/kernels/maxpooling_op.cc).
///
/// The winning positions are remembered from `forward` in a buffer this object owns.
public final class MaxPoolKernel {
    public let geometry: WindowGeometry
    private var argmax: [Int32] = []

    public init(geometry: WindowGeometry) {
        self.geometry = geometry
    }

    public var outputCount: Int { geometry.channels * geometry.positions }

    public func forward(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        let g = geometry, C = g.channels, H = g.inHeight, W = g.inWidth
        let outCount = outputCount
        if argmax.count < batch * outCount { argmax = [Int32](repeating: 0, count: batch * outCount) }
        argmax.withUnsafeMutableBufferPointer { amBuf in
            let am = amBuf.baseAddress!
            parallelFor(batch, minimumWorkPerItem: g.inputCount) { b in
                let x = input + b * g.inputCount
                let y = output + b * outCount
                let a = am + b * outCount
                for oh in 0..<g.outHeight {
                    let h0 = oh * g.strideH - g.padTop
                    let hLo = max(h0, 0), hHi = min(h0 + g.kernelHeight, H)
                    for ow in 0..<g.outWidth {
                        let w0 = ow * g.strideW - g.padLeft
                        let wLo = max(w0, 0), wHi = min(w0 + g.kernelWidth, W)
                        for c in 0..<C {
                            var best = -Float.infinity
                            var bestIndex = -1
                            for h in hLo..<hHi {
                                for w in wLo..<wHi {
                                    let idx = g.layout == .nchw ? (c * H + h) * W + w : (h * W + w) * C + c
                                    let v = x[idx]
                                    if bestIndex < 0 || v > best { best = v; bestIndex = idx }
                                }
                            }
                            let o = g.layout == .nchw ? c * g.positions + oh * g.outWidth + ow
                                                      : (oh * g.outWidth + ow) * C + c
                            y[o] = best
                            a[o] = Int32(bestIndex)
                        }
                    }
                }
            }
        }
    }

    /// Overwrites `gradInput` with the gradient of the last `forward` (same batch).
    public func backward(gradOutput dy: UnsafePointer<Float>, batch: Int, gradInput dx: UnsafeMutablePointer<Float>) {
        let g = geometry
        let outCount = outputCount
        argmax.withUnsafeBufferPointer { am in
            for b in 0..<batch {
                let d = dx + b * g.inputCount
                d.update(repeating: 0, count: g.inputCount)
                let gy = dy + b * outCount
                let a = am.baseAddress! + b * outCount
                for o in 0..<outCount where a[o] >= 0 { d[Int(a[o])] += gy[o] }
            }
        }
    }
}
