import Foundation
import KerasFile
import Kernels

/// Keras's ZeroPadding2D (positive edges: zeros around each image) and Cropping2D (edges cut
/// off), as one copy between an image and a window of a larger one. `edges` (top, bottom, left,
/// right); the gradient is the copy back.
final class EdgeLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let pad: Bool
    private let inner: (c: Int, h: Int, w: Int)
    private let outer: (c: Int, h: Int, w: Int)
    private let top: Int, left: Int
    private let channelsFirst: Bool
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, edges: [Int], pad: Bool, dataFormat: DataFormat, inputShape: [Int]) throws {
        self.name = name
        self.pad = pad
        let className = pad ? "ZeroPadding2D" : "Cropping2D"
        let (c, h, w) = try imageDimensions(inputShape, dataFormat, layer: name, className: className)
        guard edges.count == 4, edges.allSatisfy({ $0 >= 0 }) else { throw NetworkError(layer: name, "needs four non-negative edges") }
        let (oh, ow) = pad ? (h + edges[0] + edges[1], w + edges[2] + edges[3]) : (h - edges[0] - edges[1], w - edges[2] - edges[3])
        guard oh > 0, ow > 0 else {
            throw NetworkError(layer: name, "cropping \(describeShape(edges)) leaves nothing of the input \(describeShape(inputShape))")
        }
        // The smaller image sits in the larger at (top, left).
        inner = pad ? (c, h, w) : (c, oh, ow)
        outer = pad ? (c, oh, ow) : (c, h, w)
        top = edges[0]
        left = edges[2]
        channelsFirst = dataFormat == .channelsFirst
        outputShape = imageShape(c: c, h: oh, w: ow, dataFormat)
    }

    /// Copies the inner window between `big` and `small` for each sample (`toSmall`: big -> small),
    /// zeroing `big` first when it is written.
    private func copy(big: UnsafeMutablePointer<Float>, small: UnsafeMutablePointer<Float>, batch: Int, toSmall: Bool) {
        let C = inner.c, bigCount = C * outer.h * outer.w, smallCount = C * inner.h * inner.w
        if !toSmall { big.update(repeating: 0, count: batch * bigCount) }
        for b in 0..<batch {
            let bg = big + b * bigCount, sm = small + b * smallCount
            if channelsFirst {
                for c in 0..<C { for y in 0..<inner.h {
                    let bRow = bg + (c * outer.h + y + top) * outer.w + left, sRow = sm + (c * inner.h + y) * inner.w
                    if toSmall { sRow.update(from: bRow, count: inner.w) } else { bRow.update(from: sRow, count: inner.w) }
                } }
            } else {
                for y in 0..<inner.h {
                    let bRow = bg + ((y + top) * outer.w + left) * C, sRow = sm + y * inner.w * C
                    if toSmall { sRow.update(from: bRow, count: inner.w * C) } else { bRow.update(from: sRow, count: inner.w * C) }
                }
            }
        }
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples
        output.ensureShape([batch] + outputShape)
        input.withPointer { x in output.withMutablePointer { y in
            let x = UnsafeMutablePointer(mutating: x)   // only read: the copy goes from x to y
            if pad { copy(big: y, small: x, batch: batch, toSmall: false) } else { copy(big: x, small: y, batch: batch, toSmall: true) }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let batch = input.samples
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            let dy = UnsafeMutablePointer(mutating: dy)   // only read
            if pad { copy(big: dy, small: dx, batch: batch, toSmall: true) } else { copy(big: dx, small: dy, batch: batch, toSmall: false) }
        } }
        return gradInput
    }
}

/// Keras's UpSampling2D by integer factors. `nearest`: each input value repeated size[0] x size[1]
/// times (Keras 3's `ops.repeat`; tf-keras's `tf.image.resize` nearest with half-pixel centers
/// picks the same inputs for integer factors). `bilinear`: TensorFlow's `ResizeBilinear` with
/// `half_pixel_centers` (what `tf.image.resize` runs): source coordinate (o + 0.5) * scale - 0.5
/// with scale = in / out in float, lower = max(floor, 0), upper = min(ceil, in - 1), lerp =
/// coordinate - floor, and top + (bottom - top) * y_lerp of the two row interpolations; the
/// gradient is `ResizeBilinearGrad`'s spreading of each output gradient onto the four inputs.
final class UpSampling2DLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let c: Int, h: Int, w: Int, oh: Int, ow: Int
    private let channelsFirst: Bool
    private let bilinear: Bool
    private let ys: [(lo: Int, hi: Int, lerp: Float)]
    private let xs: [(lo: Int, hi: Int, lerp: Float)]
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, size: [Int], dataFormat: DataFormat, bilinear: Bool, inputShape: [Int]) throws {
        self.name = name
        (c, h, w) = try imageDimensions(inputShape, dataFormat, layer: name, className: "UpSampling2D")
        guard size.count == 2, size.allSatisfy({ $0 > 0 }) else { throw NetworkError(layer: name, "size must be two positive integers") }
        (oh, ow) = (h * size[0], w * size[1])
        channelsFirst = dataFormat == .channelsFirst
        self.bilinear = bilinear
        outputShape = imageShape(c: c, h: oh, w: ow, dataFormat)
        func weights(_ n: Int, _ out: Int) -> [(lo: Int, hi: Int, lerp: Float)] {
            let scale = Float(n) / Float(out)
            return (0..<out).map { o in
                if !bilinear {
                    // HalfPixelScalerForNN: floor((o + 0.5) * scale), clamped.
                    return (min(Int(floorf((Float(o) + 0.5) * scale)), n - 1), 0, 0)
                }
                let v = (Float(o) + 0.5) * scale - 0.5
                let f = floorf(v)
                return (max(Int(f), 0), min(Int(ceilf(v)), n - 1), v - f)
            }
        }
        ys = weights(h, oh)
        xs = weights(w, ow)
    }

    @inline(__always)
    private func index(_ ch: Int, _ y: Int, _ x: Int, _ height: Int, _ width: Int) -> Int {
        channelsFirst ? (ch * height + y) * width + x : (y * width + x) * c + ch
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples, inCount = c * h * w, outCount = c * oh * ow
        output.ensureShape([batch] + outputShape)
        input.withPointer { x in output.withMutablePointer { y in
            for b in 0..<batch {
                let src = x + b * inCount, dst = y + b * outCount
                for oy in 0..<oh { for ox in 0..<ow {
                    let (ylo, yhi, yl) = ys[oy], (xlo, xhi, xl) = xs[ox]
                    for ch in 0..<c {
                        if !bilinear {
                            dst[index(ch, oy, ox, oh, ow)] = src[index(ch, ylo, xlo, h, w)]
                            continue
                        }
                        let tl = src[index(ch, ylo, xlo, h, w)], tr = src[index(ch, ylo, xhi, h, w)]
                        let bl = src[index(ch, yhi, xlo, h, w)], br = src[index(ch, yhi, xhi, h, w)]
                        let top = tl + (tr - tl) * xl
                        let bottom = bl + (br - bl) * xl
                        dst[index(ch, oy, ox, oh, ow)] = top + (bottom - top) * yl
                    }
                } }
            }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let batch = input.samples, inCount = c * h * w, outCount = c * oh * ow
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            dx.update(repeating: 0, count: batch * inCount)
            for b in 0..<batch {
                let d = dy + b * outCount, g = dx + b * inCount
                for oy in 0..<oh { for ox in 0..<ow {
                    let (ylo, yhi, yl) = ys[oy], (xlo, xhi, xl) = xs[ox]
                    for ch in 0..<c {
                        let v = d[index(ch, oy, ox, oh, ow)]
                        if !bilinear { g[index(ch, ylo, xlo, h, w)] += v; continue }
                        // ResizeBilinearGrad: top = dy * (1 - y_lerp), bottom = dy * y_lerp.
                        let top = v * (1 - yl), bottom = v * yl
                        g[index(ch, ylo, xlo, h, w)] += top * (1 - xl)
                        g[index(ch, ylo, xhi, h, w)] += top * xl
                        g[index(ch, yhi, xlo, h, w)] += bottom * (1 - xl)
                        g[index(ch, yhi, xhi, h, w)] += bottom * xl
                    }
                } }
            }
        } }
        return gradInput
    }
}

/// Keras's Permute: the per-sample axes reordered, output axis i = input axis dims[i] - 1.
final class PermuteLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    /// For each output element (row-major), the input element it copies.
    private let source: [Int]
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, dims: [Int], inputShape: [Int]) throws {
        self.name = name
        guard dims.count == inputShape.count, Set(dims) == Set(1...max(1, inputShape.count)) else {
            throw NetworkError(layer: name, "dims \(describeShape(dims)) is not a permutation of the input's \(inputShape.count) axes")
        }
        let axes = dims.map { $0 - 1 }
        outputShape = axes.map { inputShape[$0] }
        var inStrides = [Int](repeating: 1, count: inputShape.count)
        for i in stride(from: inputShape.count - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * inputShape[i + 1] }
        let count = inputShape.reduce(1, *)
        var source = [Int](repeating: 0, count: count)
        var position = [Int](repeating: 0, count: axes.count)
        for o in 0..<count {
            source[o] = zip(position, axes).reduce(0) { $0 + $1.0 * inStrides[$1.1] }
            var k = axes.count - 1
            while k >= 0 {
                position[k] += 1
                if position[k] < outputShape[k] { break }
                position[k] = 0
                k -= 1
            }
        }
        self.source = source
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples, n = source.count
        output.ensureShape([batch] + outputShape)
        input.withPointer { x in output.withMutablePointer { y in source.withUnsafeBufferPointer { s in
            for b in 0..<batch { for o in 0..<n { y[b * n + o] = x[b * n + s[o]] } }
        } } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let batch = input.samples, n = source.count
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in source.withUnsafeBufferPointer { s in
            for b in 0..<batch { for o in 0..<n { dx[b * n + s[o]] = dy[b * n + o] } }
        } } }
        return gradInput
    }
}
