import Foundation
import HDF5
import Kernels

extension Dataset {
    /// The inputs of an HDF5 file for `predict`: one dataset per model input, named as the model
    /// names it (`names`; `x` stands for a model's only input), each checked against its shape
    /// (`shapes`) as training data are (shape, channel axis, NaN/Inf), all with one number of
    /// samples.
    public static func inputs(path: String, names: [String], shapes: [[Int]]) throws -> [Tensor] {
        if let problem = RegularFile.problem(path) { throw DataError(path, problem) }
        guard File.isHDF5(path) else { throw DataError(path, "is not an HDF5 file") }
        let data: Dataset
        do {
            let root = try File.open(path).root
            data = try named(root, path: path, names: DataNames(inputs: names, targets: [], outputCount: 0))
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(path, "cannot be read: \(error)")
        }
        return try data.validated(inputShapes: shapes, labels: []).inputs
    }
}
