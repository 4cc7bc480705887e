extension Tensor {
    /// Values per sample for a batch-first tensor.
    public var samples: Int { shape.first ?? 0 }

    @inlinable
    public func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer { buf in
            // An empty array may have no storage: hand out a valid dummy address.
            if let base = buf.baseAddress { return try body(base) }
            var dummy: Float = 0
            return try withUnsafePointer(to: &dummy) { try body($0) }
        }
    }

    @inlinable
    public mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeMutableBufferPointer { buf in
            if let base = buf.baseAddress { return try body(base) }
            var dummy: Float = 0
            return try withUnsafeMutablePointer(to: &dummy) { try body($0) }
        }
    }

    /// Makes this tensor `shape`, reusing its storage when the element count is unchanged or fits
    /// the storage it has (a layer's buffers alternate between the training batch and the
    /// epoch-end signals' reference batch: reallocating them cost page faults twice an epoch).
    /// Contents are unspecified afterwards (zero when the count changed).
    public mutating func ensureShape(_ newShape: [Int]) {
        if shape == newShape { return }
        let n = newShape.reduce(1, *)
        if data.count == n {
            shape = newShape
        } else if n <= data.capacity {
            data.removeAll(keepingCapacity: true)
            data.append(contentsOf: repeatElement(0, count: n))
            shape = newShape
        } else {
            self = Tensor(zeros: newShape)
        }
    }
}
