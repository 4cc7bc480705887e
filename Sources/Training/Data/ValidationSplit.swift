extension Dataset {
    /// Where Keras cuts `count` samples for `validation_split=fraction`: every Keras version
    /// computes `int(count * (1. - fraction))` in float64 (tf.keras and Keras 3 spell it
    /// `math.floor`), so the float64 rounding of `1 - fraction` is part of the answer.
    public static func validationSplitIndex(count: Int, fraction: Double) -> Int {
        Int((Double(count) * (1.0 - fraction)).rounded(.down))
    }

    /// Keras's `validation_split`: the last `fraction` of the samples, taken before any
    /// shuffling, is held out. Both parts must be non-empty, as tf.keras and Keras 3 insist.
    public func validationSplit(_ fraction: Double) throws -> (training: Dataset, validation: Dataset) {
        let name = source.name(of: .x)
        guard fraction > 0, fraction < 1 else {
            throw DataError(name, "validation split \(fraction) is not between 0 and 1")
        }
        for (array, t) in zip(inputNames + targetNames, inputs + targets) where (t.shape.first ?? 0) != count {
            throw DataError(name, "\(inputNames[0]) has \(count) samples but \(array) has \(t.shape.first ?? 0)")
        }
        let splitAt = Self.validationSplitIndex(count: count, fraction: fraction)
        guard splitAt > 0, splitAt < count else {
            throw DataError(name, "\(count) samples are not enough to split into training and validation sets "
                + "with validation split \(fraction) (\(splitAt) would be left for training)")
        }
        return (samples(0..<splitAt), samples(splitAt..<count))
    }
}
