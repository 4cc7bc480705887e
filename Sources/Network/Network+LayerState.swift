import Kernels

extension Network {
    /// State some layers keep outside Keras's file, by layer name, as float32 bit patterns in hex
    /// (exact through JSON): Keras 2.2's BatchNormalization zero-debiasing averages and step
    /// (`[step, mean..., variance...]`). Empty when no layer has any; a checkpoint keeps it so a
    /// resumed run continues bit for bit.
    public var layerState: [String: [String]] {
        var out: [String: [String]] = [:]
        for layer in layerList {
            guard let bn = layer as? BatchNormalizationLayer, bn.spec.generation == .keras2, bn.keras2Biased.step > 0 else { continue }
            let s = bn.keras2Biased
            out[bn.name] = ([s.step] + s.mean + s.variance).map { String($0.bitPattern, radix: 16) }
        }
        return out
    }

    public func setLayerState(_ state: [String: [String]]) throws {
        for layer in layerList {
            guard let bn = layer as? BatchNormalizationLayer, let words = state[bn.name] else { continue }
            let values = try words.map { word -> Float in
                guard let bits = UInt32(word, radix: 16) else { throw NetworkError(layer: bn.name, "layer state '\(word)' is not a hex float") }
                return Float(bitPattern: bits)
            }
            let c = bn.channels
            guard values.count == 1 + 2 * c else { throw NetworkError(layer: bn.name, "layer state has \(values.count) values, expected \(1 + 2 * c)") }
            bn.setKeras2Biased(mean: Array(values[1...c]), variance: Array(values[(c + 1)...]), step: values[0])
        }
    }
}
