import Kernels

/// Samples and their labels, the whole set in memory: `x` is (n, ...sample shape), `y` is
/// (n, k). The shapes are as loaded; `validated(modelInputShape:outputWidth:)` checks them
/// against a model before training.
public struct Dataset: Equatable, Sendable {
    public var x: Tensor
    public var y: Tensor
    /// Where the data came from. Subsets made by `validationSplit` keep their parent's source:
    /// the split itself is a training setting, recorded by whoever makes it.
    public var source: DataSourceDescription

    public init(x: Tensor, y: Tensor, source: DataSourceDescription) {
        self.x = x
        self.y = y
        self.source = source
    }

    /// Samples in `x` (the first dimension; 0 for a scalar).
    public var count: Int { x.shape.first ?? 0 }
    public var sampleShape: [Int] { Array(x.shape.dropFirst()) }
    public var labelShape: [Int] { Array(y.shape.dropFirst()) }

    /// FNV-1a 64 over both shapes and every value's bits, as sixteen hex digits: equal data give
    /// equal fingerprints on every platform, whatever file or generator they came from.
    public var fingerprint: String {
        var hash = FNV1a64()
        hash.add(shape: x.shape, values: x.data)
        hash.add(shape: y.shape, values: y.data)
        return hash.hex
    }

    /// Samples `range`, in order.
    public func samples(_ range: Range<Int>) -> Dataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count && count == (y.shape.first ?? 0))
        let xWidth = sampleShape.reduce(1, *)
        let yWidth = labelShape.reduce(1, *)
        return Dataset(
            x: Tensor(shape: [range.count] + sampleShape,
                      data: Array(x.data[(range.lowerBound * xWidth)..<(range.upperBound * xWidth)])),
            y: Tensor(shape: [range.count] + labelShape,
                      data: Array(y.data[(range.lowerBound * yWidth)..<(range.upperBound * yWidth)])),
            source: source)
    }
}
