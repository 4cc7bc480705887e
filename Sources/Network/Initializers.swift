import Foundation
import KerasFile
import Kernels

/// A Keras weight initializer as read from a layer's config. Values are drawn from a
/// `SeededGenerator`: reproducible for a seed, not equal to TensorFlow's draws.
public enum Initializer: Equatable, Sendable {
    case constant(Double)
    case uniform(min: Double, max: Double)
    case normal(mean: Double, stddev: Double)
    case truncatedNormal(mean: Double, stddev: Double)
    /// Keras's VarianceScaling; glorot_*, he_* and lecun_* are instances of it.
    case varianceScaling(scale: Double, mode: String, distribution: String)

    public static let glorotUniform = Initializer.varianceScaling(scale: 1, mode: "fan_avg", distribution: "uniform")

    /// Reads `{"class_name": ..., "config": {...}}` (Keras 2, tf.keras; Keras 3 adds "module"
    /// and "registered_name"), a bare string ("glorot_uniform"), or null (-> `defaultValue`).
    public static func parse(_ json: JSONValue?, default defaultValue: Initializer, layer: String) throws -> Initializer {
        guard let json, !json.isNull else { return defaultValue }
        let name: String
        var config: JSONValue = .object([])
        if let s = json.stringValue {
            name = s
        } else if let s = json["class_name"]?.stringValue {
            name = s
            if let c = json["config"], c.objectValue != nil { config = c }
        } else {
            throw NetworkError(layer: layer, "unreadable initializer \(json.serialized())")
        }
        func num(_ key: String, _ d: Double) -> Double { config[key]?.doubleValue ?? d }
        switch name.lowercased().replacingOccurrences(of: "_", with: "") {
        case "zeros", "zero": return .constant(0)
        case "ones", "one": return .constant(1)
        case "constant": return .constant(num("value", 0))
        case "randomuniform", "uniform":
            return .uniform(min: num("minval", -0.05), max: num("maxval", 0.05))
        case "randomnormal", "normal":
            return .normal(mean: num("mean", 0), stddev: num("stddev", 0.05))
        case "truncatednormal":
            return .truncatedNormal(mean: num("mean", 0), stddev: num("stddev", 0.05))
        case "glorotuniform": return .varianceScaling(scale: 1, mode: "fan_avg", distribution: "uniform")
        case "glorotnormal": return .varianceScaling(scale: 1, mode: "fan_avg", distribution: "truncated_normal")
        case "heuniform": return .varianceScaling(scale: 2, mode: "fan_in", distribution: "uniform")
        case "henormal": return .varianceScaling(scale: 2, mode: "fan_in", distribution: "truncated_normal")
        case "lecununiform": return .varianceScaling(scale: 1, mode: "fan_in", distribution: "uniform")
        case "lecunnormal": return .varianceScaling(scale: 1, mode: "fan_in", distribution: "truncated_normal")
        case "variancescaling":
            let mode = config["mode"]?.stringValue ?? "fan_in"
            var dist = config["distribution"]?.stringValue ?? "truncated_normal"
            if dist == "normal" { dist = "truncated_normal" }   // Keras 2.2's name for it
            guard ["fan_in", "fan_out", "fan_avg"].contains(mode),
                  ["uniform", "truncated_normal", "untruncated_normal"].contains(dist) else {
                throw NetworkError(layer: layer, "unsupported VarianceScaling mode '\(mode)' / distribution '\(dist)'")
            }
            return .varianceScaling(scale: num("scale", 1), mode: mode, distribution: dist)
        default:
            throw NetworkError(layer: layer, "unsupported initializer '\(name)'")
        }
    }

    /// Fills a tensor of `shape` (Keras's fan computation: receptive field = all but the last two axes).
    public func values(shape: [Int], rng: inout SeededGenerator) -> [Float] {
        let n = shape.reduce(1, *)
        switch self {
        case .constant(let v):
            return [Float](repeating: Float(v), count: n)
        case .uniform(let lo, let hi):
            return (0..<n).map { _ in Float(lo + (hi - lo) * Initializer.unit(&rng)) }
        case .normal(let mean, let sd):
            return (0..<n).map { _ in Float(mean + sd * Initializer.gaussian(&rng)) }
        case .truncatedNormal(let mean, let sd):
            return (0..<n).map { _ in Float(mean + sd * Initializer.truncatedGaussian(&rng)) }
        case .varianceScaling(let scale, let mode, let distribution):
            let (fanIn, fanOut) = Initializer.fans(shape)
            let fan: Double = mode == "fan_in" ? fanIn : mode == "fan_out" ? fanOut : (fanIn + fanOut) / 2
            let s = scale / max(1, fan)
            switch distribution {
            case "uniform":
                let limit = (3 * s).squareRoot()
                return (0..<n).map { _ in Float(-limit + 2 * limit * Initializer.unit(&rng)) }
            case "untruncated_normal":
                let sd = s.squareRoot()
                return (0..<n).map { _ in Float(sd * Initializer.gaussian(&rng)) }
            default:
                // Keras: stddev of the truncated normal corrected for the truncation at 2 sd.
                let sd = s.squareRoot() / 0.87962566103423978
                return (0..<n).map { _ in Float(sd * Initializer.truncatedGaussian(&rng)) }
            }
        }
    }

    static func fans(_ shape: [Int]) -> (Double, Double) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Double(shape[0]), Double(shape[0]))
        case 2: return (Double(shape[0]), Double(shape[1]))
        default:
            let rf = Double(shape.dropLast(2).reduce(1, *))
            return (Double(shape[shape.count - 2]) * rf, Double(shape[shape.count - 1]) * rf)
        }
    }

    static func unit(_ rng: inout SeededGenerator) -> Double { Double(rng.next() >> 11) * 0x1p-53 }

    static func gaussian(_ rng: inout SeededGenerator) -> Double {
        // Box-Muller, one value per pair of draws (simple and platform independent).
        let u1 = max(unit(&rng), 0x1p-53), u2 = unit(&rng)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    static func truncatedGaussian(_ rng: inout SeededGenerator) -> Double {
        while true {
            let g = gaussian(&rng)
            if abs(g) <= 2 { return g }
        }
    }
}
