import HDF5
import KerasFile
import Kernels

extension Tensor {
    /// The array's values as float32 (converting other float widths).
    public init(_ array: NumericArray) {
        self.init(shape: array.shape, data: array.floats())
    }
}

extension NumericArray {
    public init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, floats: tensor.data)
    }
}

extension KerasModel {
    /// The stored weights as tensors keyed by layer name, in Keras's order within each layer.
    public var weightTensors: [String: [Tensor]] {
        weightsByLayer.mapValues { $0.map { Tensor($0) } }
    }
}

extension Network {
    /// Builds the network of a full-model file with its weights, checking every weight's shape
    /// against the architecture.
    public convenience init(model: KerasModel, dropoutSeed: UInt64 = 0) throws {
        guard let definition = model.definition else {
            throw NetworkError(layer: nil, "the file holds weights only, no architecture")
        }
        try self.init(definition: definition, dropoutSeed: dropoutSeed, producer: model.producer, backend: model.backend)
        try loadWeights(model.weightTensors)
    }
}
