import Budget
import Network

extension Trainer {
    /// Refuses a batch whose buffers would not fit the memory budget, before the first batch:
    /// every layer's output for `batchSize` samples (capped at the data's count, as a batch
    /// is), times four (output, pre-activation, output gradient, input gradient), plus the
    /// batch's inputs and labels (every input's and output's).
    public static func checkBatchFits(network: Network, batchSize: Int, samples: Int) throws {
        let batch = min(batchSize, max(samples, 1))
        let perSample = MemoryBudget.sum(network.layerInfos.map { MemoryBudget.byteCount($0.outputShape, elementSize: 16) }
                                         + network.inputShapes.map { MemoryBudget.byteCount($0) }
                                         + network.outputShapes.map { MemoryBudget.byteCount($0) })
        let bytes = perSample.flatMap { MemoryBudget.byteCount([$0, batch], elementSize: 1) }
        try MemoryBudget.check("a batch of \(batch) samples (every layer's outputs and gradients)", bytes: bytes)
    }
}
