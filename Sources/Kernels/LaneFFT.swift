import Foundation

/// Sixteen floats, one per independent signal: the FFTs below transform sixteen signals at once,
/// lane by lane, so every butterfly is plain vector arithmetic with no shuffles.
typealias Lanes = SIMD16<Float>

/// Complex FFTs of one power-of-two length on sixteen signals at once (one per lane). Radix 2,
/// decimation in time; the first two stages are fused (their twiddles are 1 and -i). Twiddles
/// are computed in Double and rounded once.
struct LaneFFT {
    let count: Int
    /// `bitReversed[i]`: where input `i` goes before the butterflies.
    let bitReversed: [Int]
    /// cos and sin of 2 pi k / count, for k < count / 2.
    private let cosines: [Float]
    private let sines: [Float]

    init(count n: Int) {
        precondition(n >= 4 && n & (n - 1) == 0, "FFT length must be a power of two, at least 4")
        count = n
        let bits = n.trailingZeroBitCount
        bitReversed = (0..<n).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return r
        }
        cosines = (0..<n / 2).map { Float(cos(2 * Double.pi * Double($0) / Double(n))) }
        sines = (0..<n / 2).map { Float(sin(2 * Double.pi * Double($0) / Double(n))) }
    }

    /// Transforms `re`/`im` in place, which hold the input in bit-reversed order (see
    /// `bitReversed`) and receive the output in natural order. Forward: X[k] = sum x[j]
    /// exp(-2 pi i jk / n); inverse: the same with +i, unscaled.
    @inline(__always)
    func transformBitReversed(_ re: UnsafeMutablePointer<Lanes>, _ im: UnsafeMutablePointer<Lanes>, inverse: Bool) {
        let n = count
        // Stages of length 2 and 4: twiddles 1 and -i (forward) or +i (inverse).
        for b in stride(from: 0, to: n, by: 4) {
            let r0 = re[b], r1 = re[b + 1], r2 = re[b + 2], r3 = re[b + 3]
            let i0 = im[b], i1 = im[b + 1], i2 = im[b + 2], i3 = im[b + 3]
            let ar = r0 + r1, ai = i0 + i1, br = r0 - r1, bi = i0 - i1
            let cr = r2 + r3, ci = i2 + i3, dr = r2 - r3, di = i2 - i3
            // w d with w = -i: (di, -dr); with w = +i: (-di, dr).
            let wdr = inverse ? -di : di, wdi = inverse ? dr : -dr
            re[b] = ar + cr; im[b] = ai + ci
            re[b + 2] = ar - cr; im[b + 2] = ai - ci
            re[b + 1] = br + wdr; im[b + 1] = bi + wdi
            re[b + 3] = br - wdr; im[b + 3] = bi - wdi
        }
        var half = 4
        while half < n {
            let step = n / (2 * half)
            for j in 0..<half {
                let c = Lanes(repeating: cosines[j * step])
                let s = Lanes(repeating: inverse ? sines[j * step] : -sines[j * step])
                for b in stride(from: j, to: n, by: 2 * half) {
                    let ur = re[b], ui = im[b]
                    let xr = re[b + half], xi = im[b + half]
                    let tr = c * xr - s * xi, ti = c * xi + s * xr
                    re[b] = ur + tr; im[b] = ui + ti
                    re[b + half] = ur - tr; im[b + half] = ui - ti
                }
            }
            half *= 2
        }
    }

    /// Transforms along the first axis of a (count, width) row-major array, in place: `width`
    /// independent FFTs whose elements are rows, so every butterfly runs along a whole row with
    /// one twiddle. Rows in natural or bit-reversed order in, natural order out.
    @inline(__always)
    func transformRows(_ re: UnsafeMutablePointer<Lanes>, _ im: UnsafeMutablePointer<Lanes>, width: Int, inverse: Bool,
                       bitReversedInput: Bool) {
        let n = count
        for i in 0..<n where !bitReversedInput {
            let r = bitReversed[i]
            guard i < r else { continue }
            for k in 0..<width {
                swap(&re[i * width + k], &re[r * width + k])
                swap(&im[i * width + k], &im[r * width + k])
            }
        }
        for b in stride(from: 0, to: n, by: 4) {
            let p0 = b * width, p1 = p0 + width, p2 = p1 + width, p3 = p2 + width
            for k in 0..<width {
                let r0 = re[p0 + k], r1 = re[p1 + k], r2 = re[p2 + k], r3 = re[p3 + k]
                let i0 = im[p0 + k], i1 = im[p1 + k], i2 = im[p2 + k], i3 = im[p3 + k]
                let ar = r0 + r1, ai = i0 + i1, br = r0 - r1, bi = i0 - i1
                let cr = r2 + r3, ci = i2 + i3, dr = r2 - r3, di = i2 - i3
                let wdr = inverse ? -di : di, wdi = inverse ? dr : -dr
                re[p0 + k] = ar + cr; im[p0 + k] = ai + ci
                re[p2 + k] = ar - cr; im[p2 + k] = ai - ci
                re[p1 + k] = br + wdr; im[p1 + k] = bi + wdi
                re[p3 + k] = br - wdr; im[p3 + k] = bi - wdi
            }
        }
        var half = 4
        while half < n {
            let step = n / (2 * half)
            for j in 0..<half {
                let c = Lanes(repeating: cosines[j * step])
                let s = Lanes(repeating: inverse ? sines[j * step] : -sines[j * step])
                for b in stride(from: j, to: n, by: 2 * half) {
                    let u = b * width, x = (b + half) * width
                    for k in 0..<width {
                        let ur = re[u + k], ui = im[u + k]
                        let xr = re[x + k], xi = im[x + k]
                        let tr = c * xr - s * xi, ti = c * xi + s * xr
                        re[u + k] = ur + tr; im[u + k] = ui + ti
                        re[x + k] = ur - tr; im[x + k] = ui - ti
                    }
                }
            }
            half *= 2
        }
    }
}

/// Two-dimensional FFTs of real (rows x columns) signals, sixteen at a time, to and from their
/// half spectra: (rows, columns / 2 + 1) complex values, row-major, real and imaginary parts in
/// separate arrays. Two real rows travel as one complex row (the second as its imaginary part)
/// and are separated by symmetry, so each row transform does the work of two.
struct RealFFT2D {
    let rows: Int
    let columns: Int
    /// Columns of the half spectrum.
    var halfColumns: Int { columns / 2 + 1 }
    /// Complex values in one half spectrum.
    var frequencies: Int { rows * halfColumns }
    /// Lanes of scratch the transforms need.
    var scratchLanes: Int { 2 * columns }
    /// Lanes of a whole grid: the largest input of `forward` or output of `inverse`.
    var gridLanes: Int { rows * columns }

    private let rowFFT: LaneFFT
    private let columnFFT: LaneFFT

    /// Both sizes powers of two, at least 4.
    init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        rowFFT = LaneFFT(count: columns)
        columnFFT = LaneFFT(count: rows)
    }

    /// Where spectrum row `r` goes when a spectrum is handed to `inverse` in bit-reversed row
    /// order (which saves the inverse its row swaps).
    @inline(__always)
    func bitReversedRow(_ r: Int) -> Int { columnFFT.bitReversed[r] }

    /// The half spectrum, in natural order, of real signals whose first `nonzeroRows` rows are
    /// `input` (row-major, `columns` lanes each); the other rows are zero. `scratch`:
    /// `scratchLanes` lanes.
    @inline(__always)
    func forward(nonzeroRows: Int, input: UnsafePointer<Lanes>, re: UnsafeMutablePointer<Lanes>,
                 im: UnsafeMutablePointer<Lanes>, scratch: UnsafeMutablePointer<Lanes>) {
        let n = columns, K = halfColumns
        let zr = scratch, zi = scratch + n
        let half = Lanes(repeating: 0.5)
        for r in stride(from: 0, to: nonzeroRows, by: 2) {
            let a = input + r * n, b = input + (r + 1) * n
            let second = r + 1 < nonzeroRows
            for j in 0..<n {
                let t = rowFFT.bitReversed[j]
                zr[t] = a[j]; zi[t] = second ? b[j] : Lanes()
            }
            rowFFT.transformBitReversed(zr, zi, inverse: false)
            // A[k] = (Z[k] + conj Z[n-k]) / 2, B[k] = (Z[k] - conj Z[n-k]) / 2i, stored at the
            // bit-reversed rows the column transform starts from.
            let ra = bitReversedRow(r) * K, rb = bitReversedRow(r + 1) * K
            for k in 0..<K {
                let m = (n - k) & (n - 1)
                let pr = zr[k], pi = zi[k], qr = zr[m], qi = zi[m]
                re[ra + k] = half * (pr + qr); im[ra + k] = half * (pi - qi)
                re[rb + k] = half * (pi + qi); im[rb + k] = half * (qr - pr)
            }
        }
        for r in ((nonzeroRows + 1) & ~1)..<rows {
            let rr = bitReversedRow(r) * K
            for k in 0..<K { re[rr + k] = Lanes(); im[rr + k] = Lanes() }
        }
        columnFFT.transformRows(re, im, width: K, inverse: false, bitReversedInput: true)
    }

    /// The real signals of a half spectrum (rows in natural or bit-reversed order), unscaled
    /// (times rows x columns): their first `outputRows` rows (rounded up to even) into `output`,
    /// `columns` lanes each. The spectrum is overwritten.
    @inline(__always)
    func inverse(outputRows: Int, re: UnsafeMutablePointer<Lanes>, im: UnsafeMutablePointer<Lanes>,
                 rowsBitReversed: Bool, output: UnsafeMutablePointer<Lanes>) {
        let n = columns, K = halfColumns
        columnFFT.transformRows(re, im, width: K, inverse: true, bitReversedInput: rowsBitReversed)
        for r in stride(from: 0, to: outputRows, by: 2) {
            // Z = A + iB over the full row, A and B Hermitian: A[n-k] = conj A[k].
            let ar = re + r * K, ai = im + r * K, br = re + (r + 1) * K, bi = im + (r + 1) * K
            let zr = output + r * n, zi = output + (r + 1) * n
            for k in 0..<K {
                let t = rowFFT.bitReversed[k]
                zr[t] = ar[k] - bi[k]; zi[t] = ai[k] + br[k]
            }
            for k in K..<n {
                let t = rowFFT.bitReversed[k], m = n - k
                zr[t] = ar[m] + bi[m]; zi[t] = br[m] - ai[m]
            }
            rowFFT.transformBitReversed(zr, zi, inverse: true)
        }
    }
}

/// Lane storage that grows on demand, like `FloatScratch`, aligned for `Lanes`.
final class LaneScratch: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Lanes>
    private(set) var capacity: Int

    init(_ count: Int = 0) {
        capacity = max(count, 1)
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: Lanes(), count: capacity)
    }

    /// At least `count` lanes; old contents are dropped when it grows.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Lanes> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: Lanes(), count: count)
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}
