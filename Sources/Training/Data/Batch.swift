import Kernels

extension Dataset {
    /// Copies the samples at `indices` into `batchX` and `batchY`, reshaping them to
    /// (indices.count, ...). Made once with `makeBatchTensors` and passed back every step, the
    /// tensors keep their storage, so a training step allocates nothing here (the last,
    /// shorter batch only shrinks them within their capacity).
    public func batch<Indices: Collection<Int>>(indices: Indices, x batchX: inout Tensor, y batchY: inout Tensor) {
        Self.gather(from: x, indices: indices, into: &batchX)
        Self.gather(from: y, indices: indices, into: &batchY)
    }

    /// The samples at `indices` as new tensors (allocates; for tools and tests).
    public func batch<Indices: Collection<Int>>(indices: Indices) -> (x: Tensor, y: Tensor) {
        var (bx, by) = makeBatchTensors(batchSize: indices.count)
        batch(indices: indices, x: &bx, y: &by)
        return (bx, by)
    }

    /// Zeroed tensors large enough for batches of up to `batchSize` samples.
    public func makeBatchTensors(batchSize: Int) -> (x: Tensor, y: Tensor) {
        (Tensor(zeros: [batchSize] + sampleShape), Tensor(zeros: [batchSize] + labelShape))
    }

    /// Zeroed tensors for every input and target, for batches of up to `batchSize` samples.
    public func makeBatch(batchSize: Int) -> BatchTensors {
        BatchTensors(inputs: inputs.map { Tensor(zeros: [batchSize] + $0.shape.dropFirst()) },
                     targets: targets.map { Tensor(zeros: [batchSize] + $0.shape.dropFirst()) })
    }

    /// Copies the samples at `indices` of every input and target into `batch` (made by
    /// `makeBatch`), as `batch(indices:x:y:)` does for one of each.
    public func batch<Indices: Collection<Int>>(indices: Indices, into batch: inout BatchTensors) {
        for i in inputs.indices { Self.gather(from: inputs[i], indices: indices, into: &batch.inputs[i]) }
        for i in targets.indices { Self.gather(from: targets[i], indices: indices, into: &batch.targets[i]) }
    }

    /// The samples at `indices` of every input and target, as new tensors (allocates).
    public func batchTensors<Indices: Collection<Int>>(indices: Indices) -> BatchTensors {
        var batch = makeBatch(batchSize: indices.count)
        self.batch(indices: indices, into: &batch)
        return batch
    }

    private static func gather<Indices: Collection<Int>>(from source: Tensor, indices: Indices, into target: inout Tensor) {
        let width = source.shape.dropFirst().reduce(1, *)
        let available = source.shape.first ?? 0
        let needed = indices.count * width
        if target.data.count > needed {
            target.data.removeLast(target.data.count - needed)
        } else if target.data.count < needed {
            target.data.append(contentsOf: repeatElement(0, count: needed - target.data.count))
        }
        target.shape = [indices.count] + source.shape.dropFirst()
        source.data.withUnsafeBufferPointer { from in
            target.data.withUnsafeMutableBufferPointer { to in
                var offset = 0
                for index in indices {
                    precondition(index >= 0 && index < available, "sample \(index) is outside 0..<\(available)")
                    if width > 0 {
                        (to.baseAddress! + offset).update(from: from.baseAddress! + index * width, count: width)
                    }
                    offset += width
                }
            }
        }
    }
}

/// One batch of a model with several inputs or outputs: a tensor per input and per target.
public struct BatchTensors: Sendable {
    public var inputs: [Tensor]
    public var targets: [Tensor]

    public init(inputs: [Tensor], targets: [Tensor]) {
        self.inputs = inputs
        self.targets = targets
    }
}
