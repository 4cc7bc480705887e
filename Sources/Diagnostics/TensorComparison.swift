import HDF5

/// Two versions of one tensor side by side: statistics of each and of their difference.
/// Either side may be missing (a tensor only one file has).
public struct TensorComparison: Sendable {
    public var shapeA: [Int]?
    public var shapeB: [Int]?
    public var a: TensorStatistics?
    public var b: TensorStatistics?
    /// Over elements where both sides are finite; nil when the shapes differ.
    public var maxAbsDifference: Double?
    /// ||b - a|| / ||a||; nil when the shapes differ or ||a|| is zero.
    public var relativeChange: Double?
    /// ||b|| / ||a||; nil when ||a|| is zero.
    public var normRatio: Double?

    public init(_ a: NumericArray?, _ b: NumericArray?) {
        shapeA = a?.shape
        shapeB = b?.shape
        let x = a?.doubles(), y = b?.doubles()
        self.a = x.map(TensorStatistics.init)
        self.b = y.map(TensorStatistics.init)
        if let na = self.a?.norm, let nb = self.b?.norm, na > 0 { normRatio = nb / na }
        guard let x, let y, shapeA == shapeB else { return }
        var largest = 0.0, squares = 0.0
        for i in x.indices where x[i].isFinite && y[i].isFinite {
            let d = y[i] - x[i]
            largest = max(largest, abs(d))
            squares += d * d
        }
        maxAbsDifference = largest
        if let na = self.a?.norm, na > 0 { relativeChange = squares.squareRoot() / na }
    }

    public var hasNonFinite: Bool {
        (a.map { $0.nanCount + $0.infCount } ?? 0) + (b.map { $0.nanCount + $0.infCount } ?? 0) > 0
    }
}

/// When a weight counts as exploded between two checkpoints.
public struct ExplosionThresholds: Sendable {
    /// ||b|| / ||a|| above this is an explosion (Keras-trained weights rarely double in an epoch).
    public var normRatio: Double
    /// Any |value| above this is an explosion; nil: not checked.
    public var maxAbs: Double?

    public init(normRatio: Double = 10, maxAbs: Double? = nil) {
        self.normRatio = normRatio
        self.maxAbs = maxAbs
    }

    public func exploded(_ c: TensorComparison) -> Bool {
        if let ratio = c.normRatio, ratio > normRatio { return true }
        if let maxAbs, let top = c.b?.maxAbs, top > maxAbs { return true }
        return false
    }
}
