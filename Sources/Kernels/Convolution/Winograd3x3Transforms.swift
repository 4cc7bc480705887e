/// The one-dimensional transforms of Winograd's F(2, 3) for `Winograd3x3Conv2DKernel`, after
/// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), section 4.1
/// (interpolation points 0, 1, -1 and infinity):
///
///     B^T = [1  0 -1  0]    G = [  1    0    0 ]    A^T = [1  1  1  0]
///           [0  1  1  0]        [ 1/2  1/2  1/2]          [0  1 -1 -1]
///           [0 -1  1  0]        [ 1/2 -1/2  1/2]
///           [0  1  0 -1]        [  0    0    1 ]
///
///     Y = A^T [(G g G^T) * (B^T d B)] A  for a 4 x 4 input tile d, a 3 x 3 kernel g, 2 x 2 outputs.
///
/// Each function applies one matrix (or its transpose, for the gradients) along one axis to one
/// tile's four or three values, sixteen lanes (channels or filters) at a time. Only the kernel
/// transform divides, by two, which is exact: rounding stays near a direct sum's.

/// Four lanes: one tile's values along one axis.
struct TileLanes {
    var v0, v1, v2, v3: Lanes

    subscript(i: Int) -> Lanes {
        switch i {
        case 0: return v0
        case 1: return v1
        case 2: return v2
        default: return v3
        }
    }
}

/// Three lanes: one kernel's taps along one axis.
struct TapLanes {
    var t0, t1, t2: Lanes

    subscript(i: Int) -> Lanes {
        switch i {
        case 0: return t0
        case 1: return t1
        default: return t2
        }
    }
}

/// B^T d for four inputs.
@inline(__always)
func f23Input(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes) -> TileLanes {
    TileLanes(v0: d0 - d2, v1: d1 + d2, v2: d2 - d1, v3: d1 - d3)
}

/// G g for three taps.
@inline(__always)
func f23Kernel(_ g0: Lanes, _ g1: Lanes, _ g2: Lanes) -> TileLanes {
    let half = Lanes(repeating: 0.5), outer = g0 + g2
    return TileLanes(v0: g0, v1: half * (outer + g1), v2: half * (outer - g1), v3: g2)
}

/// G^T u for four components: the adjoint of `f23Kernel` (kernel gradients).
@inline(__always)
func f23KernelAdjoint(_ u0: Lanes, _ u1: Lanes, _ u2: Lanes, _ u3: Lanes) -> TapLanes {
    let half = Lanes(repeating: 0.5), sum = half * (u1 + u2)
    return TapLanes(t0: u0 + sum, t1: half * (u1 - u2), t2: sum + u3)
}

/// A^T m for four products: two outputs.
@inline(__always)
func f23Output(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes) -> (Lanes, Lanes) {
    ((m0 + m1) + m2, (m1 - m2) - m3)
}

/// A dy for two output gradients: the adjoint of `f23Output` (kernel gradients).
@inline(__always)
func f23OutputAdjoint(_ d0: Lanes, _ d1: Lanes) -> TileLanes {
    TileLanes(v0: d0, v1: d0 + d1, v2: d0 - d1, v3: Lanes() - d1)
}
