import Foundation

// Double-precision reference implementations for the gradient checks: plain loops, written from
// the Keras/TensorFlow definitions, sharing nothing with the code under test.

public struct RefImage {
    public var channelsFirst: Bool
    public var c: Int, h: Int, w: Int
    public init(channelsFirst: Bool, c: Int, h: Int, w: Int) {
        self.channelsFirst = channelsFirst
        self.c = c
        self.h = h
        self.w = w
    }
    public func index(_ ci: Int, _ y: Int, _ x: Int) -> Int {
        channelsFirst ? (ci * h + y) * w + x : (y * w + x) * c + ci
    }
    public var count: Int { c * h * w }
}

public func refOutSize(_ n: Int, _ k: Int, _ s: Int, same: Bool) -> (Int, Int) {
    if same {
        let o = (n + s - 1) / s
        return (o, max((o - 1) * s + k - n, 0) / 2)
    }
    return ((n - k) / s + 1, 0)
}

/// Direct convolution of a batch. kernel (kh, kw, c, o) as Keras stores it.
public func refConv(_ x: [Double], batch: Int, img: RefImage, kernel: [Double], bias: [Double]?, kh: Int, kw: Int,
             filters: Int, strides: (Int, Int), same: Bool) -> (y: [Double], out: RefImage) {
    let (oh, pt) = refOutSize(img.h, kh, strides.0, same: same)
    let (ow, pl) = refOutSize(img.w, kw, strides.1, same: same)
    let out = RefImage(channelsFirst: img.channelsFirst, c: filters, h: oh, w: ow)
    var y = [Double](repeating: 0, count: batch * out.count)
    for b in 0..<batch {
        for o in 0..<filters { for i in 0..<oh { for j in 0..<ow {
            var s = bias?[o] ?? 0
            for di in 0..<kh { for dj in 0..<kw {
                let yy = i * strides.0 - pt + di, xx = j * strides.1 - pl + dj
                guard yy >= 0, yy < img.h, xx >= 0, xx < img.w else { continue }
                for c in 0..<img.c {
                    s += x[b * img.count + img.index(c, yy, xx)] * kernel[((di * kw + dj) * img.c + c) * filters + o]
                }
            } }
            y[b * out.count + out.index(o, i, j)] = s
        } } }
    }
    return (y, out)
}

public func refMaxPool(_ x: [Double], batch: Int, img: RefImage, ph: Int, pw: Int, strides: (Int, Int), same: Bool) -> (y: [Double], out: RefImage) {
    let (oh, pt) = refOutSize(img.h, ph, strides.0, same: same)
    let (ow, pl) = refOutSize(img.w, pw, strides.1, same: same)
    let out = RefImage(channelsFirst: img.channelsFirst, c: img.c, h: oh, w: ow)
    var y = [Double](repeating: 0, count: batch * out.count)
    for b in 0..<batch { for c in 0..<img.c { for i in 0..<oh { for j in 0..<ow {
        var m = -Double.infinity
        for di in 0..<ph { for dj in 0..<pw {
            let yy = i * strides.0 - pt + di, xx = j * strides.1 - pl + dj
            guard yy >= 0, yy < img.h, xx >= 0, xx < img.w else { continue }
            m = max(m, x[b * img.count + img.index(c, yy, xx)])
        } }
        y[b * out.count + out.index(c, i, j)] = m
    } } } }
    return (y, out)
}

public func refDense(_ x: [Double], rows: Int, nIn: Int, nOut: Int, kernel: [Double], bias: [Double]?) -> [Double] {
    var y = [Double](repeating: 0, count: rows * nOut)
    for r in 0..<rows { for o in 0..<nOut {
        var s = bias?[o] ?? 0
        for i in 0..<nIn { s += x[r * nIn + i] * kernel[i * nOut + o] }
        y[r * nOut + o] = s
    } }
    return y
}

public enum RefActivation {
    case linear, relu, sigmoid, tanh, softmax
    case elu(Double), selu, softplus, softsign, exponential, swish, mish, gelu, geluTanh
    case hardSigmoid, hardSigmoidRelu6, hardSilu, relu6, leakyRelu(Double), logSoftmax
}

public func refActivate(_ x: [Double], _ f: RefActivation, rowLength: Int) -> [Double] {
    switch f {
    case .linear: return x
    case .relu: return x.map { max($0, 0) }
    case .sigmoid: return x.map { 1 / (1 + exp(-$0)) }
    case .tanh: return x.map { Foundation.tanh($0) }
    case .softmax:
        var y = x
        for r in 0..<(x.count / rowLength) {
            let row = x[(r * rowLength)..<((r + 1) * rowLength)]
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<rowLength { y[r * rowLength + j] = e[j] / s }
        }
        return y
    case .logSoftmax:
        let p = refActivate(x, .softmax, rowLength: rowLength)
        return p.map { Foundation.log($0) }
    case .elu(let a): return x.map { $0 > 0 ? $0 : a * Foundation.expm1($0) }
    case .selu: return x.map { 1.0507009873554805 * ($0 > 0 ? $0 : 1.6732632423543772 * Foundation.expm1($0)) }
    case .softplus: return x.map { Foundation.log1p(Foundation.exp($0)) }
    case .softsign: return x.map { $0 / (1 + abs($0)) }
    case .exponential: return x.map { Foundation.exp($0) }
    case .swish: return x.map { $0 / (1 + Foundation.exp(-$0)) }
    case .mish: return x.map { $0 * Foundation.tanh(Foundation.log1p(Foundation.exp($0))) }
    case .gelu: return x.map { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
    case .geluTanh: return x.map { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
    case .hardSigmoid: return x.map { min(max(0.2 * $0 + 0.5, 0), 1) }
    case .hardSigmoidRelu6: return x.map { min(max($0 + 3, 0), 6) / 6 }
    case .hardSilu: return x.map { $0 * min(max($0 + 3, 0), 6) / 6 }
    case .relu6: return x.map { min(max($0, 0), 6) }
    case .leakyRelu(let a): return x.map { $0 > 0 ? $0 : a * $0 }
    }
}

/// Central finite differences of `f` at `x` in Double, for the indices `indices` (all by default).
public func finiteDifferences(_ f: ([Double]) -> Double, at x: [Double], eps: Double = 1e-6, indices: [Int]? = nil) -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    var xp = x
    for i in indices ?? Array(x.indices) {
        let v = x[i]
        xp[i] = v + eps
        let a = f(xp)
        xp[i] = v - eps
        let b = f(xp)
        xp[i] = v
        g[i] = (a - b) / (2 * eps)
    }
    return g
}

/// Deterministic pseudo-random values in [-1, 1).
public func randomValues(_ n: Int, seed: UInt64) -> [Double] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<n).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Double(s >> 11) / Double(1 << 53) * 2 - 1
    }
}

public func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

/// max |a - b| / (max |b| + floor): a scale-aware error for comparing gradients.
public func relativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-3) -> Double {
    precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
    let scale = max(b.map(abs).max() ?? 0, floor)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}
