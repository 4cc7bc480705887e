import Kernels

/// Samples and their labels, the whole set in memory: one array per model input (`inputs`, each
/// (n, ...sample shape)) and one per output that has a loss (`targets`, each (n, ...)). A
/// model with one input and one output has `x` and `y`. The shapes are as loaded;
/// `validated(...)` checks them against a model before training.
public struct Dataset: Equatable, Sendable {
    /// One array per model input, in the model's input order.
    public var inputs: [Tensor]
    /// One array per output with a loss, in the model's output order; empty for prediction.
    public var targets: [Tensor]
    /// The dataset each array came from, for messages: "x" and "y" in the single-array form, the
    /// model's input and output names in a file with one dataset each.
    public var inputNames: [String]
    public var targetNames: [String]
    /// Where the data came from. Subsets made by `validationSplit` keep their parent's source:
    /// the split itself is a training setting, recorded by whoever makes it.
    public var source: DataSourceDescription

    public init(x: Tensor, y: Tensor, source: DataSourceDescription) {
        self.init(inputs: [x], targets: [y], inputNames: ["x"], targetNames: ["y"], source: source)
    }

    public init(inputs: [Tensor], targets: [Tensor], inputNames: [String], targetNames: [String], source: DataSourceDescription) {
        precondition(!inputs.isEmpty && inputs.count == inputNames.count && targets.count == targetNames.count)
        self.inputs = inputs
        self.targets = targets
        self.inputNames = inputNames
        self.targetNames = targetNames
        self.source = source
    }

    /// The only (first) input array.
    public var x: Tensor {
        get { inputs[0] }
        set { inputs[0] = newValue }
    }

    /// The only (first) target array.
    public var y: Tensor {
        get { targets[0] }
        set { targets[0] = newValue }
    }

    /// Samples in the first input (its first dimension; 0 for a scalar).
    public var count: Int { x.shape.first ?? 0 }
    public var sampleShape: [Int] { Array(x.shape.dropFirst()) }
    public var labelShape: [Int] { Array(y.shape.dropFirst()) }

    /// FNV-1a 64 over every array's shape and every value's bits (the inputs, then the targets),
    /// as sixteen hex digits: equal data give equal fingerprints on every platform, whatever file
    /// or generator they came from.
    public var fingerprint: String {
        var hash = FNV1a64()
        for t in inputs + targets { hash.add(shape: t.shape, values: t.data) }
        return hash.hex
    }

    /// Samples `range`, in order.
    public func samples(_ range: Range<Int>) -> Dataset {
        func slice(_ t: Tensor) -> Tensor {
            precondition(range.lowerBound >= 0 && range.upperBound <= (t.shape.first ?? 0))
            let width = t.shape.dropFirst().reduce(1, *)
            return Tensor(shape: [range.count] + t.shape.dropFirst(),
                          data: Array(t.data[(range.lowerBound * width)..<(range.upperBound * width)]))
        }
        var subset = self
        subset.inputs = inputs.map(slice)
        subset.targets = targets.map(slice)
        return subset
    }
}
