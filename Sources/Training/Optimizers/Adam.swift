import Foundation

/// Adam, with tf.keras 2.11+'s defaults. `step` = iterations + 1.
public struct Adam: UpdateRule {
    public static let className = "Adam"
    public static func defaultLearningRate(_ flavor: OptimizerFlavor) -> Double { 0.001 }
    public var beta1 = 0.9
    public var beta2 = 0.999
    /// "Epsilon hat" (added to sqrt(v), not to v). Keras 2.2's default is also 1e-7 (`K.epsilon()`).
    public var epsilon = 1e-7
    public var amsgrad = false
    /// tf-keras 2.21's option: epsilon scaled by sqrt(1 - beta_2^t).
    public var adaptiveEpsilon = false

    public init() {}

    public init(reading config: inout OptimizerConfigReader) {
        beta1 = config.number("beta_1", beta1)
        beta2 = config.number("beta_2", beta2)
        epsilon = config.number("epsilon", epsilon)
        amsgrad = config.flag("amsgrad", amsgrad)
        if config.flavor == .tfKeras {
            adaptiveEpsilon = config.flag("adaptive_epsilon", adaptiveEpsilon)
        }
    }

    public func config(_ flavor: OptimizerFlavor, decay: Double) -> [(String, ConfigValue)] {
        var out: [(String, ConfigValue)] = [("beta_1", reported(beta1, flavor)), ("beta_2", reported(beta2, flavor))]
        if flavor == .keras22 { out.append(("decay", reported(decay, flavor))) }
        out += [("epsilon", .double(epsilon)), ("amsgrad", .bool(amsgrad))]
        if adaptiveEpsilon { out.append(("adaptive_epsilon", .bool(true))) }
        return out
    }

    public mutating func set(_ key: String, _ value: ConfigValue, flavor: OptimizerFlavor) throws -> Bool {
        switch key {
        case "beta_1": beta1 = try number(value, key)
        case "beta_2": beta2 = try number(value, key)
        case "epsilon": epsilon = try number(value, key)
        case "amsgrad": amsgrad = try flag(value, key)
        case "adaptive_epsilon" where flavor == .tfKeras: adaptiveEpsilon = try flag(value, key)
        default: return false
        }
        return true
    }

    /// tf.keras and Keras 3 interleave m and v per variable, then add every vhat; Keras 2.2 makes
    /// all m, all v, then all vhat, the vhats being shape-(1,) placeholders without amsgrad.
    public func slotGroups(_ flavor: OptimizerFlavor) -> [[String]] {
        switch flavor {
        case .keras22: return [["m"], ["v"], ["vhat"]]
        case .tfKeras, .keras3: return amsgrad ? [["m", "v"], ["vhat"]] : [["m", "v"]]
        }
    }

    public func slotShape(_ kind: String, variable shape: [Int], _ flavor: OptimizerFlavor) -> [Int] {
        kind == "vhat" && !amsgrad ? [1] : shape
    }

    public func update(weight w: inout [Float], gradient g: [Float], slots: inout [[Float]],
                       lr: Float, step: Int64, flavor: OptimizerFlavor) {
        let b1 = Float(beta1), b2 = Float(beta2)
        let t = Float(step)
        let b1Power = kerasPow(b1, t), b2Power = kerasPow(b2, t)
        let eps = Float(epsilon)
        let ams = amsgrad
        let vhatIndex = flavor == .keras22 || ams ? 2 : -1
        var m = slots[0], v = slots[1]
        var vhat = vhatIndex >= 0 ? slots[vhatIndex] : []
        slots[0] = []; slots[1] = []
        let n = w.count
        w.withUnsafeMutableBufferPointer { w in m.withUnsafeMutableBufferPointer { m in
        v.withUnsafeMutableBufferPointer { v in vhat.withUnsafeMutableBufferPointer { vhat in g.withUnsafeBufferPointer { g in
            let w = w.baseAddress!, m = m.baseAddress!, v = v.baseAddress!, g = g.baseAddress!, vhat = vhat.baseAddress
            if flavor == .keras22 {
                // keras/optimizers.py 2.2.4: float32 variables, `1. - beta` in float32.
                let c1 = 1 - b1, c2 = 1 - b2
                let lrT = lr * ((1 - b2Power).squareRoot() / (1 - b1Power))
                forEachPiece(of: n) { range in
                    for i in range {
                        m[i] = b1 * m[i] + c1 * g[i]
                        v[i] = b2 * v[i] + c2 * (g[i] * g[i])
                        var denominatorV = v[i]
                        if ams, let vhat { vhat[i] = max(vhat[i], v[i]); denominatorV = vhat[i] }
                        w[i] = w[i] - lrT * m[i] / (denominatorV.squareRoot() + eps)
                    }
                }
            } else {
                // tf_keras/src/optimizers/adam.py and keras/src/optimizers/adam.py: `1 - beta` is
                // computed in Python's double, then rounded to float32.
                let c1 = Float(1 - beta1), c2 = Float(1 - beta2)
                let alpha = lr * (1 - b2Power).squareRoot() / (1 - b1Power)
                let epsHat = adaptiveEpsilon ? eps * (1 - b2Power).squareRoot() : eps
                forEachPiece(of: n) { range in
                    for i in range {
                        m[i] += (g[i] - m[i]) * c1
                        v[i] += (g[i] * g[i] - v[i]) * c2
                        var denominatorV = v[i]
                        if ams, let vhat { vhat[i] = max(vhat[i], v[i]); denominatorV = vhat[i] }
                        w[i] -= (m[i] * alpha) / (denominatorV.squareRoot() + epsHat)
                    }
                }
            }
        } } } } }
        slots[0] = m; slots[1] = v
        if vhatIndex >= 0 { slots[vhatIndex] = vhat }
    }
}

/// `tf.pow` / `K.pow` on float32 scalars. TensorFlow evaluates it with Eigen's own pow, which is
/// within a few ulps of the correctly rounded value used here but not always equal to it (about
/// 10-20% of integer exponents differ by an ulp); Adam's update inherits that last-ulp noise.
@inline(__always)
func kerasPow(_ base: Float, _ exponent: Float) -> Float {
    Float(Foundation.pow(Double(base), Double(exponent)))
}
