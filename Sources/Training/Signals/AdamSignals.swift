import Foundation
import Kernels

/// Adam's per-element step size, the quantity usually blamed when a long-stable run blows up:
/// where gradients have been tiny for many steps, v (the running mean of g^2) decays toward
/// zero, and one ordinary gradient then moves the weight by |m_hat| / (sqrt(v_hat) + eps),
/// limited only by epsilon.
public struct AdamSignals: Equatable, Sendable {
    /// Largest |m_hat| / (sqrt(v_hat) + epsilon); NaN when any m or v is not finite.
    public var maxUpdateRatio: Double
    /// Smallest sqrt(v_hat); NaN when any v is not finite.
    public var minSqrtVHat: Double

    /// Bias-corrected moments at step `iterations` (Keras's `t`); nil before the first step,
    /// when the moments are still zero and the ratio has no meaning.
    public struct Correction: Sendable {
        public var beta1: Double
        public var beta2: Double
        public var epsilon: Double
        public var iterations: Int64

        public init?(beta1: Double, beta2: Double, epsilon: Double, iterations: Int64) {
            guard iterations > 0 else { return nil }
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.iterations = iterations
        }

        var mScale: Double { 1 / (1 - Foundation.pow(beta1, Double(iterations))) }
        var vScale: Double { 1 / (1 - Foundation.pow(beta2, Double(iterations))) }
    }

    /// Signals of one variable from its first moment `m` and the second moment its update
    /// divides by (`vhat` under amsgrad, else `v`).
    public init(m: [Float], v: [Float], correction: Correction) {
        precondition(m.count == v.count, "m and v of one variable differ in size")
        let mScale = correction.mScale, vScale = correction.vScale, eps = correction.epsilon
        var ratio = 0.0, low = Double.infinity, broken = false
        for i in m.indices {
            let mi = Double(m[i]), vi = Double(v[i])
            guard mi.isFinite, vi.isFinite else { broken = true; continue }
            let root = (max(vi, 0) * vScale).squareRoot()
            ratio = max(ratio, abs(mi * mScale) / (root + eps))
            low = min(low, root)
        }
        maxUpdateRatio = broken ? .nan : ratio
        minSqrtVHat = broken ? .nan : (m.isEmpty ? .nan : low)
    }

    /// The `percentile` (0...100) of sqrt(v_hat) over every element of every variable, by
    /// nearest rank; NaN when any element is not finite or there are none.
    public static func sqrtVHatPercentile(_ vs: [[Float]], percentile: Double, correction: Correction) -> Double {
        var all: [Float] = []
        all.reserveCapacity(vs.reduce(0) { $0 + $1.count })
        for v in vs { all += v }
        guard !all.isEmpty, all.allSatisfy(\.isFinite) else { return .nan }
        let rank = Int((percentile / 100 * Double(all.count - 1)).rounded(.down))
        let value = Selection.kthSmallest(&all, rank)
        return (Double(max(value, 0)) * correction.vScale).squareRoot()
    }
}

extension AdamSignals {
    /// The share of coordinates (over every variable) where sqrt(v_hat) < epsilon: there the
    /// denominator sqrt(v_hat) + epsilon is mostly epsilon, which caps the step at about
    /// lr |m_hat| / epsilon. NaN when any element is not finite or there are none.
    public static func epsilonDominatedShare(_ vs: [[Float]], correction: Correction) -> Double {
        var below = 0, total = 0
        let threshold = correction.epsilon * correction.epsilon / correction.vScale
        for v in vs {
            for x in v {
                guard x.isFinite else { return .nan }
                if Double(x) < threshold { below += 1 }
            }
            total += v.count
        }
        return total > 0 ? Double(below) / Double(total) : .nan
    }

    /// StableAdamW's RMS of one variable's update: sqrt(mean(g^2 / max(v_hat, eps^2))).
    public static func updateRMS(gradient g: [Float], v: [Float], correction: Correction) -> Double {
        precondition(g.count == v.count, "gradient and v differ in size")
        let vScale = correction.vScale, floor = correction.epsilon * correction.epsilon
        // Every step looks at every weight: in fixed pieces over the cores (the same sum
        // whatever the core count; a single-threaded pass cost the seed model a quarter of its
        // step time).
        var total = 0.0
        g.withUnsafeBufferPointer { gb in v.withUnsafeBufferPointer { vb in
            guard let gp = gb.baseAddress, let vp = vb.baseAddress else { return }
            // float32 lanes of eight per element (a diagnostic, not a weight), Double across lanes.
            let vs = Float(vScale), fl = Float(floor)
            total = fixedPieceSums(count: gb.count) { range in
                var s = 0.0
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    let g8 = UnsafeRawPointer(gp + i).loadUnaligned(as: SIMD8<Float>.self)
                    let v8 = UnsafeRawPointer(vp + i).loadUnaligned(as: SIMD8<Float>.self)
                    let q = (g8 * g8) / pointwiseMax(v8 * vs, SIMD8(repeating: fl))
                    s += Double(q.sum())
                    i += 8
                }
                while i < range.upperBound {
                    let gi = Double(gp[i])
                    s += gi * gi / max(Double(vp[i]) * vScale, floor)
                    i += 1
                }
                return (s, 0)
            }.0
        } }
        return g.isEmpty ? .nan : (total / Double(g.count)).squareRoot()
    }
}

/// Quickselect: one pass per epoch over millions of elements must not cost a full sort.
enum Selection {
    static func kthSmallest(_ a: inout [Float], _ k: Int) -> Float {
        precondition(k >= 0 && k < a.count)
        var low = 0, high = a.count - 1
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while low < high {
            // A fixed-seed pseudo-random pivot keeps sorted input from being quadratic.
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let pivot = a[low + Int((state >> 33) % UInt64(high - low + 1))]
            var i = low, j = high
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { high = j } else if k >= i { low = i } else { return a[k] }
        }
        return a[k]
    }
}

/// Two sums over 0..<count taken in pieces of a fixed size, spread over the cores and added in
/// piece order: the same values whatever the core count (they are part of the bit-identical
/// history).
func fixedPieceSums(count: Int, _ body: (Range<Int>) -> (Double, Double)) -> (Double, Double) {
    let piece = 1 << 15, pieces = (count + piece - 1) / piece
    guard pieces > 0 else { return (0, 0) }
    var sums = [(Double, Double)](repeating: (0, 0), count: pieces)
    sums.withUnsafeMutableBufferPointer { sums in
        let sums = sums.baseAddress!
        parallelFor(pieces, minimumWorkPerItem: piece) { p in
            sums[p] = body((p * piece)..<min(count, (p + 1) * piece))
        }
    }
    var total = (0.0, 0.0)
    for s in sums { total.0 += s.0; total.1 += s.1 }
    return total
}
