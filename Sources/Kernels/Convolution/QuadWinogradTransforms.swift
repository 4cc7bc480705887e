/// The one-dimensional transforms of Winograd's F(2, 4) for `QuadWinogradConv2DKernel`, on
/// sixteen lanes at a time (points 0, 1, -1, 2 and infinity; see the kernel for the formulas).
/// Each function applies one transform, or its adjoint for the gradients, to one block.

/// Five lanes: one block's values along one axis after the kernel transform.
struct QuadComponents {
    var v0, v1, v2, v3, v4: Lanes
    subscript(i: Int) -> Lanes {
        switch i {
        case 0: return v0
        case 1: return v1
        case 2: return v2
        case 3: return v3
        default: return v4
        }
    }
}

/// Four lanes: one block's taps along one axis.
struct QuadTaps {
    var t0, t1, t2, t3: Lanes
    subscript(i: Int) -> Lanes {
        switch i {
        case 0: return t0
        case 1: return t1
        case 2: return t2
        default: return t3
        }
    }
}

/// U = G w for four taps.
@inline(__always)
func quadKernelValues(_ w0: Lanes, _ w1: Lanes, _ w2: Lanes, _ w3: Lanes) -> QuadComponents {
    let half = Lanes(repeating: 0.5), sixth = Lanes(repeating: 1 / 6)
    let two = Lanes(repeating: 2), four = Lanes(repeating: 4), eight = Lanes(repeating: 8)
    return QuadComponents(v0: half * w0, v1: half * ((w0 + w1) + (w2 + w3)), v2: sixth * ((w0 - w1) + (w2 - w3)),
                          v3: sixth * ((w0 + two * w1) + (four * w2 + eight * w3)), v4: w3)
}

/// dw = G^T dU for five components.
@inline(__always)
func quadKernelAdjoint(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes) -> QuadTaps {
    let half = Lanes(repeating: 0.5), sixth = Lanes(repeating: 1 / 6)
    let two = Lanes(repeating: 2), four = Lanes(repeating: 4), eight = Lanes(repeating: 8)
    let h = half * d1
    return QuadTaps(t0: half * d0 + h + sixth * (d2 + d3), t1: h + sixth * (two * d3 - d2),
                    t2: h + sixth * (d2 + four * d3), t3: h + sixth * (eight * d3 - d2) + d4)
}

/// V = B x for five inputs, into `dst[0, stride, ..., 4 stride]`.
@inline(__always)
func quadInput(_ x0: Lanes, _ x1: Lanes, _ x2: Lanes, _ x3: Lanes, _ x4: Lanes,
                       into dst: UnsafeMutablePointer<Lanes>, stride: Int) {
    let v = quadInputValues(x0, x1, x2, x3, x4)
    dst[0] = v.0; dst[stride] = v.1; dst[2 * stride] = v.2; dst[3 * stride] = v.3; dst[4 * stride] = v.4
}

/// V = B x for five inputs, stored unaligned `strideBytes` apart.
@inline(__always)
func quadInputStore(_ x0: Lanes, _ x1: Lanes, _ x2: Lanes, _ x3: Lanes, _ x4: Lanes,
                            into dst: UnsafeMutableRawPointer, stride strideBytes: Int) {
    let v = quadInputValues(x0, x1, x2, x3, x4)
    dst.storeBytes(of: v.0, as: Lanes.self)
    (dst + strideBytes).storeBytes(of: v.1, as: Lanes.self)
    (dst + 2 * strideBytes).storeBytes(of: v.2, as: Lanes.self)
    (dst + 3 * strideBytes).storeBytes(of: v.3, as: Lanes.self)
    (dst + 4 * strideBytes).storeBytes(of: v.4, as: Lanes.self)
}

@inline(__always)
func quadInputValues(_ x0: Lanes, _ x1: Lanes, _ x2: Lanes, _ x3: Lanes, _ x4: Lanes)
    -> (Lanes, Lanes, Lanes, Lanes, Lanes) {
    let two = Lanes(repeating: 2), three = Lanes(repeating: 3)
    return (two * (x0 - x2) - x1 + x3,
            two * x1 + x2 - x3,
            three * x2 - two * x1 - x3,
            x3 - x1,
            two * (x1 - x3) - x2 + x4)
}

/// dx += B^T dv, into `dst[0, stride, ..., 4 stride]`.
@inline(__always)
func quadInputAdjoint(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes,
                              addingTo dst: UnsafeMutablePointer<Lanes>, stride: Int) {
    let two = Lanes(repeating: 2), three = Lanes(repeating: 3)
    dst[0] += two * d0
    dst[stride] += two * (d1 - d2 + d4) - d0 - d3
    dst[2 * stride] += d1 + three * d2 - two * d0 - d4
    dst[3 * stride] += d0 - d1 - d2 + d3 - two * d4
    dst[4 * stride] += d4
}

/// y = A M for five products: (M0 + M1 + M2 + M3, M1 - M2 + 2 M3 + M4).
@inline(__always)
func quadOutputs(_ m0: Float, _ m1: Float, _ m2: Float, _ m3: Float, _ m4: Float) -> (Float, Float) {
    (m0 + m1 + m2 + m3, m1 - m2 + 2 * m3 + m4)
}

/// dM = A^T dy for two outputs, into `dst[0, stride, ..., 4 stride]`.
@inline(__always)
func quadOutputAdjoint(_ d0: Float, _ d1: Float, into dst: UnsafeMutablePointer<Float>, stride: Int) {
    dst[0] = d0; dst[stride] = d0 + d1; dst[2 * stride] = d0 - d1; dst[3 * stride] = d0 + 2 * d1; dst[4 * stride] = d1
}
