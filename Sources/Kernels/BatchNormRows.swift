/// BatchNormalization's element-wise passes over channels-last rows (a row: one position's
/// `channels` values), eight channels at a time in vector lanes. Each value gets the float32
/// operations the scalar loops give it, in the same order, so results are the same bit for bit;
/// the lanes only spare a row of 16 or 32 channels the per-row loop set-up that kept the scalar
/// loops (and the compiler's vectorised ones, whose blocks are wider than such a row) from memory
/// speed.
public enum BatchNormRows {
    /// y = `form`'s values, then relu (Swift's `max(y, 0)`, as `ActivationKernel.relu`) when
    /// `relu`.
    public static func normalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>, channels C: Int,
                                 form: BatchNormAffine, relu: Bool) {
        let zero = SIMD8<Float>()
        for o in rows {
            let xr = x + o * C, yr = y + o * C
            var c = 0
            while c + 8 <= C {
                var v = form.values8(load(xr + c), channel: c)
                if relu { v = v.replacing(with: zero, where: zero .>= v) }
                store(v, yr + c)
                c += 8
            }
            while c < C {
                let v = form.value(xr[c], channel: c)
                yr[c] = relu ? max(v, 0) : v
                c += 1
            }
        }
    }

    /// dx = k (g - u - (x - mean) v) per channel, g = dy, or dy where a fused ReLU passed it (its
    /// input `mask`'s values above zero).
    public static func inputGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                     rows: Range<Int>, channels C: Int, k: UnsafePointer<Float>, u: UnsafePointer<Float>,
                                     v: UnsafePointer<Float>, mean m: UnsafePointer<Float>, mask: BatchNormAffine?) {
        for o in rows {
            let xr = x + o * C, gr = dy + o * C, dr = dx + o * C
            var c = 0
            while c + 8 <= C {
                let xv = load(xr + c)
                let g = mask.map { $0.masked8(load(gr + c), xv, channel: c) } ?? load(gr + c)
                store(load(k + c) * (g - load(u + c) - (xv - load(m + c)) * load(v + c)), dr + c)
                c += 8
            }
            while c < C {
                let g = mask.map { $0.masked(gr[c], xr[c], channel: c) } ?? gr[c]
                dr[c] = k[c] * (g - u[c] - (xr[c] - m[c]) * v[c])
                c += 1
            }
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) private static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}

/// BatchNormalization's output before any fused ReLU, per channel: (x - center) * scale + shift,
/// or x * scale + shift without `center` (tf.keras's fused and Keras 2.2's centered form, and
/// the affine one). One definition for the forward (`BatchNormRows.normalize`) and for a fused
/// ReLU's mask in the backward (`ChannelSums.maskedGradientSums`, `BatchNormRows.inputGradient`),
/// so the mask sees exactly the values the forward computed.
public struct BatchNormAffine {
    let scale: UnsafePointer<Float>
    let shift: UnsafePointer<Float>
    let center: UnsafePointer<Float>?

    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, center: UnsafePointer<Float>?) {
        self.scale = scale
        self.shift = shift
        self.center = center
    }

    @inline(__always) func values8(_ x: SIMD8<Float>, channel c: Int) -> SIMD8<Float> {
        (center.map { x - BatchNormRows.load($0 + c) } ?? x) * BatchNormRows.load(scale + c) + BatchNormRows.load(shift + c)
    }

    @inline(__always) public func value(_ x: Float, channel c: Int) -> Float {
        (center.map { x - $0[c] } ?? x) * scale[c] + shift[c]
    }
}
