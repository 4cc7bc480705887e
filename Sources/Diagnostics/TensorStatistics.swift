import HDF5

/// Summary numbers of one stored array, NaN and Inf counted apart from the finite values.
public struct TensorStatistics: Equatable, Sendable {
    public var count: Int
    public var nanCount: Int
    public var infCount: Int
    /// Over finite values only; nil when there are none.
    public var min: Double?
    public var max: Double?
    public var mean: Double?
    public var maxAbs: Double?
    /// L2 norm over finite values.
    public var norm: Double

    public init(_ values: [Double]) {
        count = values.count
        var nan = 0, inf = 0, finite = 0
        var low = Double.infinity, high = -Double.infinity, sum = 0.0, squares = 0.0
        for v in values {
            if v.isNaN { nan += 1; continue }
            if v.isInfinite { inf += 1; continue }
            finite += 1
            low = Swift.min(low, v)
            high = Swift.max(high, v)
            sum += v
            squares += v * v
        }
        nanCount = nan
        infCount = inf
        min = finite > 0 ? low : nil
        max = finite > 0 ? high : nil
        mean = finite > 0 ? sum / Double(finite) : nil
        maxAbs = finite > 0 ? Swift.max(abs(low), abs(high)) : nil
        norm = squares.squareRoot()
    }

    public init(_ array: NumericArray) {
        self.init(array.doubles())
    }
}
