/// Per-channel sums in Double over a batch laid out as [outer, channels, inner] (channels last:
/// inner = 1; channels first: inner = height x width), for BatchNormalization's statistics and
/// gradients.
///
/// The rows are cut into pieces fixed by the shape alone (about 32K values each); each piece sums
/// its rows in Double on whichever core takes it, and the pieces' partial sums are added in piece
/// order. So the result is the same bit for bit for any number of cores, and a sum of float32
/// values in Double differs from the plain running sum by a few Double ulps at most, far below
/// what rounding the result to float32 can show.
public final class ChannelSums {
    public let channels: Int
    public let inner: Int
    /// Double partial sums, two per channel per piece.
    private var partials: [Double] = []

    public init(channels: Int, inner: Int) {
        self.channels = channels
        self.inner = inner
    }

    private func rowsPerPiece() -> Int { max(1, (1 << 15) / max(1, channels * inner)) }

    /// sums[c] = sum of x over the rows and positions of channel c.
    public func sum(_ x: UnsafePointer<Float>, outer: Int, into sums: UnsafeMutablePointer<Double>) {
        let C = channels, inner = self.inner
        reduce(outer: outer, into: sums, nil) { rows, p, _ in
            if inner == 1 { return addRows(x, rows, channels: C, into: p) }
            for o in rows {
                for c in 0..<C { p[c] += sumOfDoubles(x + (o * C + c) * inner, count: inner) }
            }
        }
    }

    /// sums[c] = sum of (x - mean[c])^2 over channel c.
    public func centeredSquares(_ x: UnsafePointer<Float>, mean: UnsafePointer<Double>, outer: Int,
                                into sums: UnsafeMutablePointer<Double>) {
        let C = channels, inner = self.inner
        reduce(outer: outer, into: sums, nil) { rows, p, _ in
            if inner == 1 { return addCenteredSquaresRows(x, rows, mean: mean, channels: C, into: p) }
            for o in rows {
                for c in 0..<C { p[c] += sumOfCenteredSquares(x + (o * C + c) * inner, mean: mean[c], count: inner) }
            }
        }
    }

    /// dySums[c] = sum of dy, dyXcSums[c] = sum of dy (x - mean[c]) over channel c.
    public func gradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: UnsafePointer<Double>, outer: Int,
                             into dySums: UnsafeMutablePointer<Double>, _ dyXcSums: UnsafeMutablePointer<Double>) {
        let C = channels, inner = self.inner
        reduce(outer: outer, into: dySums, dyXcSums) { rows, p, q in
            if inner == 1 { return addGradientRows(dy, x, rows, mean: mean, channels: C, mask: NoMask(), into: p, q!) }
            for o in rows {
                for c in 0..<C {
                    let (s, t) = sumOfGradientProducts(dy + (o * C + c) * inner, x + (o * C + c) * inner, mean: mean[c], count: inner)
                    p[c] += s
                    q![c] += t
                }
            }
        }
    }

    /// `gradientSums` of the gradient w.r.t. the values before a fused ReLU whose input `mask`
    /// recomputes from `x`: dy where that input was above zero, else zero (channels last only).
    /// The sums are those of the separate ReLU backward's output, bit for bit.
    public func maskedGradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: UnsafePointer<Double>, outer: Int,
                                   mask: BatchNormAffine, into dySums: UnsafeMutablePointer<Double>, _ dyXcSums: UnsafeMutablePointer<Double>) {
        precondition(inner == 1, "masked gradient sums are for channels-last data")
        let C = channels
        reduce(outer: outer, into: dySums, dyXcSums) { rows, p, q in
            addGradientRows(dy, x, rows, mean: mean, channels: C, mask: mask, into: p, q!)
        }
    }

    /// Runs `body(rows, partial, secondPartial)` on every piece (zeroed partials), then adds the
    /// pieces' partials in piece order into `first` (and `second`).
    private func reduce(outer: Int, into first: UnsafeMutablePointer<Double>, _ second: UnsafeMutablePointer<Double>?,
                        _ body: (Range<Int>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>?) -> Void) {
        let C = channels, rows = rowsPerPiece(), pieces = max(1, (outer + rows - 1) / rows)
        if partials.count < 2 * pieces * C { partials = [Double](repeating: 0, count: 2 * pieces * C) }
        partials.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            parallelFor(pieces, minimumWorkPerItem: rows * C * inner) { piece in
                let p = base + 2 * piece * C, q = second == nil ? nil : p + C
                p.update(repeating: 0, count: 2 * C)
                body((piece * rows)..<min(outer, (piece + 1) * rows), p, q)
            }
            for c in 0..<C { first[c] = 0; second?[c] = 0 }
            for piece in 0..<pieces {
                let p = base + 2 * piece * C
                for c in 0..<C { first[c] += p[c] }
                if let second { for c in 0..<C { second[c] += p[C + c] } }
            }
        }
    }
}

// Eight channels (or positions) at a time in Double lanes; the rest one by one.

@inline(__always)
private func doubles(_ p: UnsafePointer<Float>) -> SIMD8<Double> {
    SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self))
}

@inline(__always)
private func addTo(_ p: UnsafeMutablePointer<Double>, _ v: SIMD8<Double>) {
    let raw = UnsafeMutableRawPointer(p)
    raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Double>.self) + v, as: SIMD8<Double>.self)
}

@inline(__always)
private func floats(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

@inline(__always)
private func loadDoubles(_ p: UnsafePointer<Double>) -> SIMD8<Double> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self) }

// Channels last: the rows of a piece channel block by block (sixteen channels in two Double lanes,
// then eight, then one), the block's sums held in registers over all the rows and added to the
// piece's partial at the end. Each channel's additions are the row-by-row ones in the same order
// (the partial starts at zero), without a load and store of the partial per row.

private func addRows(_ x: UnsafePointer<Float>, _ rows: Range<Int>, channels C: Int, into p: UnsafeMutablePointer<Double>) {
    var c = 0
    while c + 16 <= C {
        var a = SIMD8<Double>(), b = SIMD8<Double>()
        for o in rows { let r = x + o * C + c; a += doubles(r); b += doubles(r + 8) }
        addTo(p + c, a); addTo(p + c + 8, b); c += 16
    }
    while c + 8 <= C {
        var a = SIMD8<Double>()
        for o in rows { a += doubles(x + o * C + c) }
        addTo(p + c, a); c += 8
    }
    while c < C {
        var a = 0.0
        for o in rows { a += Double(x[o * C + c]) }
        p[c] += a; c += 1
    }
}

private func addCenteredSquaresRows(_ x: UnsafePointer<Float>, _ rows: Range<Int>, mean: UnsafePointer<Double>, channels C: Int,
                                    into p: UnsafeMutablePointer<Double>) {
    var c = 0
    while c + 16 <= C {
        let ma = loadDoubles(mean + c), mb = loadDoubles(mean + c + 8)
        var a = SIMD8<Double>(), b = SIMD8<Double>()
        for o in rows {
            let r = x + o * C + c
            let da = doubles(r) - ma, db = doubles(r + 8) - mb
            a += da * da; b += db * db
        }
        addTo(p + c, a); addTo(p + c + 8, b); c += 16
    }
    while c + 8 <= C {
        let m = loadDoubles(mean + c)
        var a = SIMD8<Double>()
        for o in rows { let d = doubles(x + o * C + c) - m; a += d * d }
        addTo(p + c, a); c += 8
    }
    while c < C {
        var a = 0.0
        for o in rows { let d = Double(x[o * C + c]) - mean[c]; a += d * d }
        p[c] += a; c += 1
    }
}

/// What the gradient rows see of dy: all of it, or only where a ReLU's input was above zero.
protocol GradientMask {
    func masked8(_ g: SIMD8<Float>, _ x: SIMD8<Float>, channel c: Int) -> SIMD8<Float>
    func masked(_ g: Float, _ x: Float, channel c: Int) -> Float
}

struct NoMask: GradientMask {
    @inline(__always) func masked8(_ g: SIMD8<Float>, _ x: SIMD8<Float>, channel c: Int) -> SIMD8<Float> { g }
    @inline(__always) func masked(_ g: Float, _ x: Float, channel c: Int) -> Float { g }
}

/// A ReLU fused into BatchNormalization read the form's values: the gradient passes where they
/// were above zero (TensorFlow's ReluGrad, a select).
extension BatchNormAffine: GradientMask {
    @inline(__always) func masked8(_ g: SIMD8<Float>, _ x: SIMD8<Float>, channel c: Int) -> SIMD8<Float> {
        SIMD8<Float>().replacing(with: g, where: values8(x, channel: c) .> 0)
    }

    @inline(__always) public func masked(_ g: Float, _ x: Float, channel c: Int) -> Float { value(x, channel: c) > 0 ? g : 0 }
}

private func addGradientRows<Mask: GradientMask>(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ rows: Range<Int>,
                                                 mean: UnsafePointer<Double>, channels C: Int, mask: Mask,
                                                 into p: UnsafeMutablePointer<Double>, _ q: UnsafeMutablePointer<Double>) {
    var c = 0
    while c + 16 <= C {
        let ma = loadDoubles(mean + c), mb = loadDoubles(mean + c + 8)
        var sa = SIMD8<Double>(), sb = SIMD8<Double>(), ta = SIMD8<Double>(), tb = SIMD8<Double>()
        for o in rows {
            let g = dy + o * C + c, r = x + o * C + c
            let xa = floats(r), xb = floats(r + 8)
            let ga = SIMD8<Double>(mask.masked8(floats(g), xa, channel: c))
            let gb = SIMD8<Double>(mask.masked8(floats(g + 8), xb, channel: c + 8))
            sa += ga; sb += gb
            ta += ga * (SIMD8<Double>(xa) - ma); tb += gb * (SIMD8<Double>(xb) - mb)
        }
        addTo(p + c, sa); addTo(p + c + 8, sb); addTo(q + c, ta); addTo(q + c + 8, tb); c += 16
    }
    while c + 8 <= C {
        let m = loadDoubles(mean + c)
        var s = SIMD8<Double>(), t = SIMD8<Double>()
        for o in rows {
            let xv = floats(x + o * C + c)
            let g = SIMD8<Double>(mask.masked8(floats(dy + o * C + c), xv, channel: c))
            s += g; t += g * (SIMD8<Double>(xv) - m)
        }
        addTo(p + c, s); addTo(q + c, t); c += 8
    }
    while c < C {
        var s = 0.0, t = 0.0
        for o in rows {
            let xv = x[o * C + c]
            let g = Double(mask.masked(dy[o * C + c], xv, channel: c))
            s += g; t += g * (Double(xv) - mean[c])
        }
        p[c] += s; q[c] += t; c += 1
    }
}

private func sumOfDoubles(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var lanes = SIMD8<Double>(), i = 0
    while i + 8 <= count { lanes += doubles(x + i); i += 8 }
    var total = lanes.sum()
    while i < count { total += Double(x[i]); i += 1 }
    return total
}

private func sumOfCenteredSquares(_ x: UnsafePointer<Float>, mean: Double, count: Int) -> Double {
    var lanes = SIMD8<Double>(), i = 0
    let m = SIMD8<Double>(repeating: mean)
    while i + 8 <= count { let d = doubles(x + i) - m; lanes += d * d; i += 8 }
    var total = lanes.sum()
    while i < count { let d = Double(x[i]) - mean; total += d * d; i += 1 }
    return total
}

private func sumOfGradientProducts(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: Double, count: Int) -> (Double, Double) {
    var s = SIMD8<Double>(), t = SIMD8<Double>(), i = 0
    let m = SIMD8<Double>(repeating: mean)
    while i + 8 <= count { let g = doubles(dy + i); s += g; t += g * (doubles(x + i) - m); i += 8 }
    var sum = s.sum(), product = t.sum()
    while i < count { let g = Double(dy[i]); sum += g; product += g * (Double(x[i]) - mean); i += 1 }
    return (sum, product)
}
