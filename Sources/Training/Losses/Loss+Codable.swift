/// A loss as recorded in a checkpoint's `RunState`, so that a resumed run continues with every
/// option. Relapse's checkpoints before options existed recorded only the function's name
/// ("binary_crossentropy", "logcosh"); that reads as the loss with Keras's defaults.
extension Loss: Codable {
    private enum Key: String, CodingKey {
        case function, fromLogits = "from_logits", labelSmoothing = "label_smoothing", delta, reduction, weight
    }

    public init(from decoder: Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            guard let function = LossFunction(kerasName: name) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown loss '\(name)'"))
            }
            self.init(function)
            return
        }
        let c = try decoder.container(keyedBy: Key.self)
        let name = try c.decode(String.self, forKey: .function)
        guard let function = LossFunction(kerasName: name) else {
            throw DecodingError.dataCorruptedError(forKey: .function, in: c, debugDescription: "unknown loss '\(name)'")
        }
        self.init(function,
                  fromLogits: try c.decodeIfPresent(Bool.self, forKey: .fromLogits) ?? false,
                  labelSmoothing: try c.decodeIfPresent(Double.self, forKey: .labelSmoothing) ?? 0,
                  delta: try c.decodeIfPresent(Double.self, forKey: .delta) ?? 1,
                  reduction: try c.decodeIfPresent(LossReduction.self, forKey: .reduction) ?? .sumOverBatchSize,
                  weight: try c.decodeIfPresent(Double.self, forKey: .weight) ?? 1)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(function.rawValue, forKey: .function)
        try c.encode(fromLogits, forKey: .fromLogits)
        try c.encode(labelSmoothing, forKey: .labelSmoothing)
        try c.encode(delta, forKey: .delta)
        try c.encode(reduction, forKey: .reduction)
        try c.encode(weight, forKey: .weight)
    }
}
