import Foundation

// Double references for issue 13's layers, written from the Keras/TensorFlow definitions.

/// A convolution's window on one axis: output size and leading padding, with a dilated extent
/// ((k - 1) * d + 1) and TensorFlow's same/valid rules, or an explicit leading pad (causal).
public func refWindow(_ n: Int, _ k: Int, _ s: Int, dilation d: Int = 1, same: Bool, leadingPad: Int? = nil) -> (out: Int, pad: Int) {
    let extent = (k - 1) * d + 1
    if let leadingPad { return ((n + leadingPad - extent) / s + 1, leadingPad) }
    return refOutSize(n, extent, s, same: same)
}

/// Direct grouped/depthwise-capable convolution. Output channel o reads input channels
/// `inputsOf(o)`; kernel index `kernelIndex(di, dj, c, o)`.
public func refConvGeneral(_ x: [Double], batch: Int, img: RefImage, outChannels: Int, kh: Int, kw: Int,
                           strides: (Int, Int), dilation: (Int, Int), pads: (Int, Int), outSize: (Int, Int),
                           bias: [Double]?, inputsOf: (Int) -> [Int], kernel: (Int, Int, Int, Int) -> Double) -> (y: [Double], out: RefImage) {
    let out = RefImage(channelsFirst: img.channelsFirst, c: outChannels, h: outSize.0, w: outSize.1)
    var y = [Double](repeating: 0, count: batch * out.count)
    for b in 0..<batch { for o in 0..<outChannels { for i in 0..<out.h { for j in 0..<out.w {
        var s = bias?[o] ?? 0
        for di in 0..<kh { for dj in 0..<kw {
            let yy = i * strides.0 - pads.0 + di * dilation.0, xx = j * strides.1 - pads.1 + dj * dilation.1
            guard yy >= 0, yy < img.h, xx >= 0, xx < img.w else { continue }
            for c in inputsOf(o) { s += x[b * img.count + img.index(c, yy, xx)] * kernel(di, dj, c, o) }
        } }
        y[b * out.count + out.index(o, i, j)] = s
    } } } }
    return (y, out)
}

/// TensorFlow's conv2d_transpose: every input value times the kernel scattered onto the output
/// (the adjoint of the convolution from the output back to the input). Kernel (kh, kw, out, in).
public func refConvTranspose(_ x: [Double], batch: Int, img: RefImage, filters: Int, kh: Int, kw: Int, strides: (Int, Int),
                             outSize: (Int, Int), pads: (Int, Int), kernel: [Double], bias: [Double]?) -> (y: [Double], out: RefImage) {
    let out = RefImage(channelsFirst: img.channelsFirst, c: filters, h: outSize.0, w: outSize.1)
    var y = [Double](repeating: 0, count: batch * out.count)
    for b in 0..<batch {
        for c in 0..<img.c { for i in 0..<img.h { for j in 0..<img.w {
            let v = x[b * img.count + img.index(c, i, j)]
            for di in 0..<kh { for dj in 0..<kw {
                let yy = i * strides.0 - pads.0 + di, xx = j * strides.1 - pads.1 + dj
                guard yy >= 0, yy < out.h, xx >= 0, xx < out.w else { continue }
                for o in 0..<filters { y[b * out.count + out.index(o, yy, xx)] += v * kernel[((di * kw + dj) * filters + o) * img.c + c] }
            } }
        } } }
        if let bias { for o in 0..<filters { for i in 0..<out.h { for j in 0..<out.w { y[b * out.count + out.index(o, i, j)] += bias[o] } } } }
    }
    return (y, out)
}

/// TensorFlow's AvgPool: the mean over the window's inputs inside the image.
public func refAvgPool(_ x: [Double], batch: Int, img: RefImage, ph: Int, pw: Int, strides: (Int, Int), same: Bool) -> (y: [Double], out: RefImage) {
    let (oh, pt) = refOutSize(img.h, ph, strides.0, same: same)
    let (ow, pl) = refOutSize(img.w, pw, strides.1, same: same)
    let out = RefImage(channelsFirst: img.channelsFirst, c: img.c, h: oh, w: ow)
    var y = [Double](repeating: 0, count: batch * out.count)
    for b in 0..<batch { for c in 0..<img.c { for i in 0..<oh { for j in 0..<ow {
        var s = 0.0, n = 0.0
        for di in 0..<ph { for dj in 0..<pw {
            let yy = i * strides.0 - pt + di, xx = j * strides.1 - pl + dj
            guard yy >= 0, yy < img.h, xx >= 0, xx < img.w else { continue }
            s += x[b * img.count + img.index(c, yy, xx)]
            n += 1
        } }
        y[b * out.count + out.index(c, i, j)] = s / n
    } } } }
    return (y, out)
}

/// tf.image.resize bilinear with half-pixel centers, one axis: (lower, upper, lerp) per output.
public func refBilinearAxis(_ n: Int, _ out: Int) -> [(Int, Int, Double)] {
    let scale = Double(n) / Double(out)
    return (0..<out).map { o in
        let v = (Double(o) + 0.5) * scale - 0.5
        return (max(Int(floor(v)), 0), min(Int(ceil(v)), n - 1), v - floor(v))
    }
}
