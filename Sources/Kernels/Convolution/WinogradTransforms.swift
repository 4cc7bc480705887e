/// The transforms of Winograd's F(2, 2) along both axes, for `WinogradConv2DKernel`. In 1-D, for
/// output pair (y0, y1), kernel taps (w0, w1) and inputs (x0, x1, x2):
///
///     input  V = (x0 - x1, x1, x2 - x1)          (B)
///     kernel U = (w0, w0 + w1, w1)                (G)
///     output y0 = M0 + M1, y1 = M1 + M2, M = U * V (A)
///
/// Each function below applies one of these (or its adjoint, for the gradients) along both axes;
/// component `a * 3 + b` is row component a, column component b, and the nine components of one
/// value lie `componentStride` apart. Inputs are first copied into a zero-padded (C, Hp, Wp)
/// image so that the loops need no bounds checks; the padding and any extra row or column (odd
/// output or kernel sizes) count as zero.
struct WinogradTransforms {
    /// The convolution being computed (stride 1).
    let outer: WindowGeometry
    /// One component's convolution: (C, Hs, Ws) images of input pairs, NCHW, valid.
    let inner: WindowGeometry
    let filters: Int

    var paddedHeight: Int { 2 * inner.inHeight + 1 }
    var paddedWidth: Int { 2 * inner.inWidth + 1 }
    var paddedCount: Int { outer.channels * paddedHeight * paddedWidth }

    /// Strides of (channel, row, column) in one sample of the outer input and output.
    private var inputStrides: (c: Int, h: Int, w: Int) {
        let g = outer
        return g.layout == .nchw ? (g.inHeight * g.inWidth, g.inWidth, 1) : (1, g.inWidth * g.channels, g.channels)
    }
    /// One sample into `padded` (C, Hp, Wp), the image at (padTop, padLeft), zeros around it.
    func pad(_ x: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        let g = outer, Hp = paddedHeight, Wp = paddedWidth, s = inputStrides
        padded.update(repeating: 0, count: paddedCount)
        for c in 0..<g.channels {
            for h in 0..<g.inHeight {
                let dst = padded + (c * Hp + h + g.padTop) * Wp + g.padLeft
                let src = x + c * s.c + h * s.h
                if s.w == 1 {
                    dst.update(from: src, count: g.inWidth)
                } else {
                    for w in 0..<g.inWidth { dst[w] = src[w * s.w] }
                }
            }
        }
    }

    /// One padded sample's nine component images, `v[ab * componentStride + (c, s1, s2)]`:
    /// component ab of the 3x3 window whose corner is (2 s1, 2 s2). Eight windows at a time: the
    /// even and odd columns of a row are the two halves of one 16-float load (the padded buffer
    /// has `simdSlack` floats past its end for the last loads).
    func transformInput(_ padded: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>, componentStride cs: Int) {
        let Hs = inner.inHeight, Ws = inner.inWidth, Hp = paddedHeight, Wp = paddedWidth
        let vectorWindows = Ws - Ws % 8
        for c in 0..<outer.channels {
            for s1 in 0..<Hs {
                let x0 = padded + (c * Hp + 2 * s1) * Wp, x1 = x0 + Wp, x2 = x1 + Wp
                let d = v + (c * Hs + s1) * Ws
                for s2 in stride(from: 0, to: vectorWindows, by: 8) {
                    let j = 2 * s2
                    let (e0, o0, n0) = columnTriples(x0 + j), (e1, o1, n1) = columnTriples(x1 + j)
                    let (e2, o2, n2) = columnTriples(x2 + j)
                    // B along rows, then along columns.
                    let a0e = e0 - e1, a0o = o0 - o1, a0n = n0 - n1
                    let a2e = e2 - e1, a2o = o2 - o1, a2n = n2 - n1
                    store(a0e - a0o, d + s2); store(a0o, d + cs + s2); store(a0n - a0o, d + 2 * cs + s2)
                    store(e1 - o1, d + 3 * cs + s2); store(o1, d + 4 * cs + s2); store(n1 - o1, d + 5 * cs + s2)
                    store(a2e - a2o, d + 6 * cs + s2); store(a2o, d + 7 * cs + s2); store(a2n - a2o, d + 8 * cs + s2)
                }
                for s2 in vectorWindows..<Ws {
                    let j = 2 * s2
                    let a00 = x0[j] - x1[j], a01 = x0[j + 1] - x1[j + 1], a02 = x0[j + 2] - x1[j + 2]
                    let a10 = x1[j], a11 = x1[j + 1], a12 = x1[j + 2]
                    let a20 = x2[j] - x1[j], a21 = x2[j + 1] - x1[j + 1], a22 = x2[j + 2] - x1[j + 2]
                    d[s2] = a00 - a01; d[cs + s2] = a01; d[2 * cs + s2] = a02 - a01
                    d[3 * cs + s2] = a10 - a11; d[4 * cs + s2] = a11; d[5 * cs + s2] = a12 - a11
                    d[6 * cs + s2] = a20 - a21; d[7 * cs + s2] = a21; d[8 * cs + s2] = a22 - a21
                }
            }
        }
    }

    /// The adjoint of `pad` and `transformInput`: one sample's input gradient from the gradients
    /// of its nine component images. The padded gradient is accumulated in `padded` with each row
    /// split into its even columns (Ws + 1) then its odd columns (Ws), so that eight windows at a
    /// time add into contiguous floats; then the image part goes to `dx`.
    func inputGradient(_ dv: UnsafePointer<Float>, componentStride cs: Int, padded: UnsafeMutablePointer<Float>,
                       into dx: UnsafeMutablePointer<Float>) {
        let Hs = inner.inHeight, Ws = inner.inWidth, Hp = paddedHeight, Wp = paddedWidth
        let vectorWindows = Ws - Ws % 8
        padded.update(repeating: 0, count: paddedCount)
        for c in 0..<outer.channels {
            for s1 in 0..<Hs {
                // Row d of this window row: even columns at e(d), odd ones at e(d) + Ws + 1.
                let e0 = padded + (c * Hp + 2 * s1) * Wp, e1 = e0 + Wp, e2 = e1 + Wp
                let o0 = e0 + Ws + 1, o1 = e1 + Ws + 1, o2 = e2 + Ws + 1
                let d = dv + (c * Hs + s1) * Ws
                for s2 in stride(from: 0, to: vectorWindows, by: 8) {
                    // B^T along columns, then along rows.
                    let v0 = load(d + s2), v1 = load(d + cs + s2), v2 = load(d + 2 * cs + s2)
                    let v3 = load(d + 3 * cs + s2), v4 = load(d + 4 * cs + s2), v5 = load(d + 5 * cs + s2)
                    let v6 = load(d + 6 * cs + s2), v7 = load(d + 7 * cs + s2), v8 = load(d + 8 * cs + s2)
                    let q01 = v1 - v0 - v2, q11 = v4 - v3 - v5, q21 = v7 - v6 - v8
                    add(v0, e0 + s2); add(q01, o0 + s2); add(v2, e0 + s2 + 1)
                    add(v3 - v0 - v6, e1 + s2); add(q11 - q01 - q21, o1 + s2); add(v5 - v2 - v8, e1 + s2 + 1)
                    add(v6, e2 + s2); add(q21, o2 + s2); add(v8, e2 + s2 + 1)
                }
                for s2 in vectorWindows..<Ws {
                    let v0 = d[s2], v1 = d[cs + s2], v2 = d[2 * cs + s2]
                    let v3 = d[3 * cs + s2], v4 = d[4 * cs + s2], v5 = d[5 * cs + s2]
                    let v6 = d[6 * cs + s2], v7 = d[7 * cs + s2], v8 = d[8 * cs + s2]
                    let q01 = v1 - v0 - v2, q11 = v4 - v3 - v5, q21 = v7 - v6 - v8
                    e0[s2] += v0; o0[s2] += q01; e0[s2 + 1] += v2
                    e1[s2] += v3 - v0 - v6; o1[s2] += q11 - q01 - q21; e1[s2 + 1] += v5 - v2 - v8
                    e2[s2] += v6; o2[s2] += q21; e2[s2 + 1] += v8
                }
            }
        }
        // Back to image order: padded column p is even column p / 2 or odd column p / 2.
        let g = outer, st = inputStrides, W = g.inWidth, first = g.padLeft % 2
        for c in 0..<g.channels {
            for h in 0..<g.inHeight {
                let row = padded + (c * Hp + h + g.padTop) * Wp + g.padLeft / 2
                let even = first == 0 ? row : row + Ws + 1, odd = first == 0 ? row + Ws + 1 : row + 1
                let dst = dx + c * st.c + h * st.h
                if st.w == 1 {
                    for k in 0..<(W / 2) { dst[2 * k] = even[k]; dst[2 * k + 1] = odd[k] }
                } else {
                    for k in 0..<(W / 2) { dst[2 * k * st.w] = even[k]; dst[(2 * k + 1) * st.w] = odd[k] }
                }
                if W % 2 == 1 { dst[(W - 1) * st.w] = even[W / 2] }
            }
        }
    }

    /// One sample's output from the nine components' products (`m[ab * componentStride]`: rows
    /// (t1, t2) of output pairs, columns o), plus `bias` (zeros when the layer has none). The
    /// output is built as (Ho, Wo, O) rows, eight filters at a time: in place under NHWC, in
    /// `rows` and then transposed under NCHW.
    func combineOutputs(_ m: UnsafePointer<Float>, componentStride cs: Int, bias: UnsafePointer<Float>,
                        rows: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let T1 = inner.outHeight, T2 = inner.outWidth, O = filters, Ho = outer.outHeight, Wo = outer.outWidth
        let dst = outer.layout == .nhwc ? y : rows
        let vectorFilters = O - O % 8
        for t1 in 0..<T1 {
            let h = 2 * t1, lower = h + 1 < Ho
            for t2 in 0..<T2 {
                let w = 2 * t2, right = w + 1 < Wo
                let r = m + (t1 * T2 + t2) * O
                let y00 = dst + (h * Wo + w) * O, y01 = y00 + O, y10 = y00 + Wo * O, y11 = y10 + O
                // A^T along columns, then along rows.
                for o in stride(from: 0, to: vectorFilters, by: 8) {
                    let m1 = load(r + cs + o), m4 = load(r + 4 * cs + o), m7 = load(r + 7 * cs + o)
                    let c00 = load(r + o) + m1, c01 = m1 + load(r + 2 * cs + o)
                    let c10 = load(r + 3 * cs + o) + m4, c11 = m4 + load(r + 5 * cs + o)
                    let c20 = load(r + 6 * cs + o) + m7, c21 = m7 + load(r + 8 * cs + o)
                    let b = load(bias + o)
                    store((c00 + c10) + b, y00 + o)
                    if right { store((c01 + c11) + b, y01 + o) }
                    if lower {
                        store((c10 + c20) + b, y10 + o)
                        if right { store((c11 + c21) + b, y11 + o) }
                    }
                }
                for o in vectorFilters..<O {
                    let m1 = r[cs + o], m4 = r[4 * cs + o], m7 = r[7 * cs + o]
                    let c00 = r[o] + m1, c01 = m1 + r[2 * cs + o]
                    let c10 = r[3 * cs + o] + m4, c11 = m4 + r[5 * cs + o]
                    let c20 = r[6 * cs + o] + m7, c21 = m7 + r[8 * cs + o]
                    let b = bias[o]
                    y00[o] = (c00 + c10) + b
                    if right { y01[o] = (c01 + c11) + b }
                    if lower {
                        y10[o] = (c10 + c20) + b
                        if right { y11[o] = (c11 + c21) + b }
                    }
                }
            }
        }
        if outer.layout == .nchw { transpose(rows, rows: Ho * Wo, columns: O, into: y) }
    }

    /// The adjoint of `combineOutputs`: one sample's output gradient as the nine components'
    /// (t1 * T2 + t2, o) matrices; under NCHW the gradient is first transposed into `rows`.
    func gradOutputComponents(_ dy: UnsafePointer<Float>, rows: UnsafeMutablePointer<Float>,
                              into dm: UnsafeMutablePointer<Float>, componentStride cs: Int) {
        let T1 = inner.outHeight, T2 = inner.outWidth, O = filters, Ho = outer.outHeight, Wo = outer.outWidth
        let src: UnsafePointer<Float>
        if outer.layout == .nchw {
            transpose(dy, rows: O, columns: Ho * Wo, into: rows)
            src = UnsafePointer(rows)
        } else {
            src = dy
        }
        let vectorFilters = O - O % 8
        for t1 in 0..<T1 {
            let h = 2 * t1, lower = h + 1 < Ho
            for t2 in 0..<T2 {
                let w = 2 * t2, right = w + 1 < Wo
                let r = dm + (t1 * T2 + t2) * O
                let y00 = src + (h * Wo + w) * O, y01 = y00 + O, y10 = y00 + Wo * O, y11 = y10 + O
                // A along columns, then along rows.
                for o in stride(from: 0, to: vectorFilters, by: 8) {
                    let zero = SIMD8<Float>(repeating: 0)
                    let d00 = load(y00 + o), d01 = right ? load(y01 + o) : zero
                    let d10 = lower ? load(y10 + o) : zero, d11 = lower && right ? load(y11 + o) : zero
                    let g01 = d00 + d01, g11 = d10 + d11
                    store(d00, r + o); store(g01, r + cs + o); store(d01, r + 2 * cs + o)
                    store(d00 + d10, r + 3 * cs + o); store(g01 + g11, r + 4 * cs + o); store(d01 + d11, r + 5 * cs + o)
                    store(d10, r + 6 * cs + o); store(g11, r + 7 * cs + o); store(d11, r + 8 * cs + o)
                }
                for o in vectorFilters..<O {
                    let d00 = y00[o], d01 = right ? y01[o] : 0
                    let d10 = lower ? y10[o] : 0, d11 = lower && right ? y11[o] : 0
                    let g01 = d00 + d01, g11 = d10 + d11
                    r[o] = d00; r[cs + o] = g01; r[2 * cs + o] = d01
                    r[3 * cs + o] = d00 + d10; r[4 * cs + o] = g01 + g11; r[5 * cs + o] = d01 + d11
                    r[6 * cs + o] = d10; r[7 * cs + o] = g11; r[8 * cs + o] = d11
                }
            }
        }
    }

    /// The nine component kernels, `u[ab * K2 * O + ((c, i2, j2), o)]` (the inner im2col's row
    /// order), from Keras's (kh, kw, C, O) kernel; channels in parallel.
    func transformKernel(_ kernel: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, zeros: UnsafePointer<Float>) {
        let g = outer, O = filters, C = g.channels, kh2 = inner.kernelHeight, kw2 = inner.kernelWidth
        let cs = inner.patchSize * O
        parallelFor(C, minimumWorkPerItem: kh2 * kw2 * 9 * O) { c in
            func tap(_ k1: Int, _ k2: Int) -> UnsafePointer<Float> {
                k1 < g.kernelHeight && k2 < g.kernelWidth ? kernel + ((k1 * g.kernelWidth + k2) * C + c) * O : zeros
            }
            for i2 in 0..<kh2 { for j2 in 0..<kw2 {
                let w00 = tap(2 * i2, 2 * j2), w01 = tap(2 * i2, 2 * j2 + 1)
                let w10 = tap(2 * i2 + 1, 2 * j2), w11 = tap(2 * i2 + 1, 2 * j2 + 1)
                let r = u + ((c * kh2 + i2) * kw2 + j2) * O
                // G along columns, then along rows; eight filters at a time, then the rest.
                for o in stride(from: 0, to: O - O % 8, by: 8) {
                    let v00 = load(w00 + o), v01 = load(w01 + o), v10 = load(w10 + o), v11 = load(w11 + o)
                    let h01 = v00 + v01, h11 = v10 + v11
                    store(v00, r + o); store(h01, r + cs + o); store(v01, r + 2 * cs + o)
                    store(v00 + v10, r + 3 * cs + o); store(h01 + h11, r + 4 * cs + o); store(v01 + v11, r + 5 * cs + o)
                    store(v10, r + 6 * cs + o); store(h11, r + 7 * cs + o); store(v11, r + 8 * cs + o)
                }
                for o in (O - O % 8)..<O {
                    let h00 = w00[o], h01 = w00[o] + w01[o], h02 = w01[o]
                    let h10 = w10[o], h11 = w10[o] + w11[o], h12 = w11[o]
                    r[o] = h00; r[cs + o] = h01; r[2 * cs + o] = h02
                    r[3 * cs + o] = h00 + h10; r[4 * cs + o] = h01 + h11; r[5 * cs + o] = h02 + h12
                    r[6 * cs + o] = h10; r[7 * cs + o] = h11; r[8 * cs + o] = h12
                }
            } }
        }
    }

    /// The adjoint of `transformKernel`: adds the nine component kernels' gradients `du` into
    /// Keras's (kh, kw, C, O) kernel gradient; channels in parallel. Taps past the kernel (odd
    /// sizes) were zero padding: their gradient is dropped.
    func addKernelGradient(_ du: UnsafePointer<Float>, into gradKernel: UnsafeMutablePointer<Float>) {
        let g = outer, O = filters, C = g.channels, kh2 = inner.kernelHeight, kw2 = inner.kernelWidth
        let cs = inner.patchSize * O
        parallelFor(C, minimumWorkPerItem: kh2 * kw2 * 9 * O) { c in
            func tap(_ k1: Int, _ k2: Int) -> UnsafeMutablePointer<Float> {
                gradKernel + ((min(k1, g.kernelHeight - 1) * g.kernelWidth + min(k2, g.kernelWidth - 1)) * C + c) * O
            }
            for i2 in 0..<kh2 { for j2 in 0..<kw2 {
                let lower = 2 * i2 + 1 < g.kernelHeight, right = 2 * j2 + 1 < g.kernelWidth
                let w00 = tap(2 * i2, 2 * j2), w01 = tap(2 * i2, 2 * j2 + 1)
                let w10 = tap(2 * i2 + 1, 2 * j2), w11 = tap(2 * i2 + 1, 2 * j2 + 1)
                let r = du + ((c * kh2 + i2) * kw2 + j2) * O
                for o in stride(from: 0, to: O - O % 8, by: 8) {
                    let k00 = load(r + o) + load(r + cs + o), k01 = load(r + cs + o) + load(r + 2 * cs + o)
                    let k10 = load(r + 3 * cs + o) + load(r + 4 * cs + o), k11 = load(r + 4 * cs + o) + load(r + 5 * cs + o)
                    let k20 = load(r + 6 * cs + o) + load(r + 7 * cs + o), k21 = load(r + 7 * cs + o) + load(r + 8 * cs + o)
                    store(load(w00 + o) + (k00 + k10), w00 + o)
                    if right { store(load(w01 + o) + (k01 + k11), w01 + o) }
                    if lower {
                        store(load(w10 + o) + (k10 + k20), w10 + o)
                        if right { store(load(w11 + o) + (k11 + k21), w11 + o) }
                    }
                }
                for o in (O - O % 8)..<O {
                    // G^T along columns, then along rows.
                    let k00 = r[o] + r[cs + o], k01 = r[cs + o] + r[2 * cs + o]
                    let k10 = r[3 * cs + o] + r[4 * cs + o], k11 = r[4 * cs + o] + r[5 * cs + o]
                    let k20 = r[6 * cs + o] + r[7 * cs + o], k21 = r[7 * cs + o] + r[8 * cs + o]
                    w00[o] += k00 + k10
                    if right { w01[o] += k01 + k11 }
                    if lower {
                        w10[o] += k10 + k20
                        if right { w11[o] += k11 + k21 }
                    }
                }
            } }
        }
    }
}

/// Floats a buffer given to `transformInput` needs past its last row: the last 16-float loads.
let simdSlack = 16

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { load(UnsafePointer(p)) }

@inline(__always)
private func add(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { store(load(p) + v, p) }

@inline(__always)
private func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// Columns (0, 2, ..., 14), (1, 3, ..., 15) and (2, 4, ..., 16) from `p`: the left, middle and
/// right inputs of eight neighbouring windows.
@inline(__always)
private func columnTriples(_ p: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let first = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    let shifted = UnsafeRawPointer(p + 2).loadUnaligned(as: SIMD16<Float>.self)
    return (first.evenHalf, first.oddHalf, shifted.evenHalf)
}

/// `y[i] += x[i]` for `count` floats, eight at a time.
func addVectors(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    let vectorCount = count - count % 8
    for i in stride(from: 0, to: vectorCount, by: 8) { add(load(x + i), y + i) }
    for i in vectorCount..<count { y[i] += x[i] }
}
