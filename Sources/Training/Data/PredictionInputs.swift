import Foundation
import HDF5
import Kernels

extension Dataset {
    /// The inputs `x` of an HDF5 file for `predict`, checked against the model's input as
    /// training data are (shape, channel axis, NaN/Inf).
    public static func inputs(path: String, modelInputShape: [Int]) throws -> Tensor {
        if let problem = RegularFile.problem(path) { throw DataError(path, problem) }
        guard File.isHDF5(path) else { throw DataError(path, "is not an HDF5 file") }
        let x: Tensor
        do {
            let root = try File.open(path).root
            guard root.hasDataset("x") else { throw DataError(path, "has no dataset 'x'") }
            let values = try root.dataset("x").read()
            x = Tensor(shape: values.shape, data: values.floats())
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(path, "cannot be read: \(error)")
        }
        // Labels play no part in predicting: one placeholder column lets `validated` check x alone.
        let count = x.shape.first ?? 0
        let unlabelled = Dataset(x: x, y: Tensor(zeros: [count, 1]), source: .hdf5(path: path))
        return try unlabelled.validated(modelInputShape: modelInputShape, outputWidth: 1).x
    }
}
