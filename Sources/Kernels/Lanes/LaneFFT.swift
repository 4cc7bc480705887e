import Foundation

/// Complex FFTs of one power-of-two length on sixteen signals at once (one per lane), decimation
/// in time: the first two stages in one pass (their twiddles are 1 and -i), then two stages per
/// pass while they fit, then one. Twiddles are computed in Double and rounded once.
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

    /// Transforms along the first axis of a (count, width) row-major array, in place: `width`
    /// independent FFTs whose elements are rows, so every butterfly runs along a strip of a row
    /// with one twiddle. Strips of four columns keep a 32-point transform's data in the L1 cache
    /// through all its stages (a whole 32 x 17 spectrum does not fit). Rows in natural or
    /// bit-reversed order in, natural order out.
    @inline(__always)
    func transformRows(_ re: UnsafeMutablePointer<Lanes>, _ im: UnsafeMutablePointer<Lanes>, width: Int, inverse: Bool,
                       bitReversedInput: Bool) {
        let n = count
        for k0 in stride(from: 0, to: width, by: 4) {
            let strip = k0..<min(k0 + 4, width)
            for i in 0..<n where !bitReversedInput {
                let r = bitReversed[i]
                guard i < r else { continue }
                for k in strip {
                    swap(&re[i * width + k], &re[r * width + k])
                    swap(&im[i * width + k], &im[r * width + k])
                }
            }
            for b in stride(from: 0, to: n, by: 4) {
                let p0 = b * width, p1 = p0 + width, p2 = p1 + width, p3 = p2 + width
                for k in strip {
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
            // Two stages per pass while they fit (halves h and 2h), then a last single one.
            while 4 * half <= n {
                let step1 = n / (2 * half), step2 = n / (4 * half)
                for j in 0..<half {
                    let c1 = Lanes(repeating: cosines[j * step1])
                    let s1 = Lanes(repeating: inverse ? sines[j * step1] : -sines[j * step1])
                    let c2 = Lanes(repeating: cosines[j * step2])
                    let s2 = Lanes(repeating: inverse ? sines[j * step2] : -sines[j * step2])
                    for b in stride(from: j, to: n, by: 4 * half) {
                        let p0 = b * width, p1 = p0 + half * width, p2 = p1 + half * width, p3 = p2 + half * width
                        for k in strip {
                            // Stage h: (x0, x1) and (x2, x3), twiddle w1.
                            let x1r = re[p1 + k], x1i = im[p1 + k], x3r = re[p3 + k], x3i = im[p3 + k]
                            let tr = c1 * x1r - s1 * x1i, ti = c1 * x1i + s1 * x1r
                            let ur = c1 * x3r - s1 * x3i, ui = c1 * x3i + s1 * x3r
                            let x0r = re[p0 + k], x0i = im[p0 + k], x2r = re[p2 + k], x2i = im[p2 + k]
                            let a0r = x0r + tr, a0i = x0i + ti, a1r = x0r - tr, a1i = x0i - ti
                            let a2r = x2r + ur, a2i = x2i + ui, a3r = x2r - ur, a3i = x2i - ui
                            // Stage 2h: (a0, a2) with twiddle w2, (a1, a3) with w2 times -i
                            // (forward) or +i (inverse).
                            let vr = c2 * a2r - s2 * a2i, vi = c2 * a2i + s2 * a2r
                            let qr = c2 * a3r - s2 * a3i, qi = c2 * a3i + s2 * a3r
                            let wr = inverse ? -qi : qi, wi = inverse ? qr : -qr
                            re[p0 + k] = a0r + vr; im[p0 + k] = a0i + vi
                            re[p2 + k] = a0r - vr; im[p2 + k] = a0i - vi
                            re[p1 + k] = a1r + wr; im[p1 + k] = a1i + wi
                            re[p3 + k] = a1r - wr; im[p3 + k] = a1i - wi
                        }
                    }
                }
                half *= 4
            }
            if half < n {
                let step = n / (2 * half)
                for j in 0..<half {
                    let c = Lanes(repeating: cosines[j * step])
                    let s = Lanes(repeating: inverse ? sines[j * step] : -sines[j * step])
                    for b in stride(from: j, to: n, by: 2 * half) {
                        let u = b * width, x = (b + half) * width
                        for k in strip {
                            let ur = re[u + k], ui = im[u + k]
                            let xr = re[x + k], xi = im[x + k]
                            let tr = c * xr - s * xi, ti = c * xi + s * xr
                            re[u + k] = ur + tr; im[u + k] = ui + ti
                            re[x + k] = ur - tr; im[x + k] = ui - ti
                        }
                    }
                }
            }
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
            rowFFT.transformRows(zr, zi, width: 1, inverse: false, bitReversedInput: true)
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
            rowFFT.transformRows(zr, zi, width: 1, inverse: true, bitReversedInput: true)
        }
    }
}
