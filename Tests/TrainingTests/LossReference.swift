import Foundation

/// Independent float64 formulas from the Keras sources, for finite differences.
enum LossReference {
    static let eps = Double(Float(1e-7))
    static let hi = Double(1 - Float(1e-7))

    static func clip(_ p: Double) -> Double { min(max(p, eps), hi) }

    static func sigmoidCE(_ z: Double, _ y: Double) -> Double { max(z, 0) - z * y + log(1 + exp(-abs(z))) }

    /// Batch mean of the per-row means of an element loss.
    static func elementMean(_ x: [Double], _ y: [Double], width: Int, _ f: (Double, Double) -> Double) -> Double {
        let rows = x.count / width
        var total = 0.0
        for r in 0..<rows {
            total += (0..<width).reduce(0.0) { $0 + f(x[r * width + $1], y[r * width + $1]) } / Double(width)
        }
        return total / Double(rows)
    }

    /// Batch mean of per-row sums.
    static func rowSumMean(_ x: [Double], _ y: [Double], width: Int, _ f: ([Double], [Double]) -> Double) -> Double {
        let rows = x.count / width
        var total = 0.0
        for r in 0..<rows {
            let range = (r * width)..<((r + 1) * width)
            total += f(Array(x[range]), Array(y[range]))
        }
        return total / Double(rows)
    }

    static func bce(_ p: Double, _ y: Double, _ semantics: String) -> Double {
        let q = clip(p)
        switch semantics {
        case "keras22": return sigmoidCE(log(q / (1 - q)), y)
        case "tfKeras": return -(y * log(q + eps) + (1 - y) * log(1 - q + eps))
        default: return -(y * log(q) + (1 - y) * log(1 - q))
        }
    }

    static func cceOnProbabilities(_ p: [Double], _ y: [Double]) -> Double {
        let s = p.reduce(0, +)
        return -zip(p, y).reduce(0.0) { $0 + $1.1 * log(clip($1.0 / s)) }
    }

    static func cceOnLogits(_ z: [Double], _ y: [Double]) -> Double {
        let top = z.max()!
        let logSum = log(z.reduce(0.0) { $0 + exp($1 - top) }) + top
        return zip(z, y).reduce(0.0) { $0 + $1.1 * (logSum - $1.0) }
    }

    /// Central difference of `f` at every coordinate.
    static func numericGradient(_ x: [Double], step: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        x.indices.map { i in
            var plus = x, minus = x
            plus[i] += step
            minus[i] -= step
            return (f(plus) - f(minus)) / (2 * step)
        }
    }
}
