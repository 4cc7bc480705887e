import HDF5
import KerasFile

extension Dataset {
    /// Writes `x` and `y` as float32 datasets, atomically, so that Keras trains on exactly these
    /// values (`h5py.File(p)['x'][:]`). The source is kept as a JSON string attribute,
    /// `relapse_data_source`, on the root group for whoever wonders where the file came from.
    public func write(to path: String) throws {
        do {
            try AtomicFile.write(to: path) { temporary in
                let file = try File.create(temporary)
                try file.root.createDataset("x", values: NumericArray(shape: x.shape, floats: x.data))
                try file.root.createDataset("y", values: NumericArray(shape: y.shape, floats: y.data))
                try file.root.setAttribute("relapse_data_source", strings: [source.json], isScalar: true)
                try file.flush()
            }
        } catch let error as KerasFileError {
            throw DataError(error.path, error.problem)
        }
    }
}

/// `relapse make-data`'s work: see `Dataset.write(to:)`.
public func writeDataset(_ dataset: Dataset, to path: String) throws {
    try dataset.write(to: path)
}
