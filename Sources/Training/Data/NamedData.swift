import HDF5
import Kernels

/// What a model reads from a data file: one dataset per input and one per output that has a
/// loss, each named as a Keras user keys `fit`'s and `predict`'s dicts (`ModelDefinition.
/// inputNames` and `outputNames`). `x` may stand for a model's only input and `y` for its only
/// target, as in the single-array form Relapse has always read and `make-data` writes.
public struct DataNames: Equatable, Sendable {
    public var inputs: [String]
    /// The outputs that have a loss, in output order; empty for prediction.
    public var targets: [String]
    /// The model has one input and one output: the single-array sources (`x`/`y`, `full`/`broken`,
    /// a .npy pair, the synthetic generator) fit it as they always have.
    public var isSingle: Bool

    public init(inputs: [String], targets: [String], outputCount: Int) {
        self.inputs = inputs
        self.targets = targets
        isSingle = inputs.count == 1 && outputCount == 1
    }

    /// "inputs 'img', 'vec' and targets 'cls', 'reg'", for messages.
    var described: String {
        func list(_ names: [String]) -> String { names.map { "'\($0)'" }.joined(separator: ", ") }
        let inputsText = (inputs.count == 1 ? "input " : "inputs ") + list(inputs)
        guard !targets.isEmpty else { return inputsText }
        return inputsText + " and " + (targets.count == 1 ? "target " : "targets ") + list(targets)
    }

    /// Refuses a source that holds one input and one target array for a model that needs others.
    func checkSingleArraySource(_ source: DataSourceDescription) throws {
        guard !isSingle else { return }
        throw DataError(source.name(of: .x), "gives one input and one target array, but the model has \(described); "
            + "give --data FILE.h5 with one dataset named after each")
    }
}

extension Dataset {
    /// The datasets `names` asks for in an HDF5 file's root, each read as float32: a missing one
    /// is named with what the file holds instead.
    static func named(_ root: Group, path: String, names: DataNames) throws -> Dataset {
        let holds = ((try? root.childNames()) ?? []).sorted()
        func read(_ name: String, fallback: String, role: String) throws -> (String, Tensor) {
            for candidate in [name, fallback] where root.hasDataset(candidate) {
                let values = try root.dataset(candidate).read()
                return (candidate, Tensor(shape: values.shape, data: values.floats()))
            }
            throw DataError(path, "has no dataset '\(name)' for the model's \(role) '\(name)'"
                + (fallback != name ? " (nor '\(fallback)', which stands for a model's only \(role))" : "")
                + " (it holds: " + (holds.isEmpty ? "nothing" : holds.joined(separator: ", ")) + ")")
        }
        var inputs: [Tensor] = [], inputNames: [String] = []
        for name in names.inputs {
            let (found, t) = try read(name, fallback: names.inputs.count == 1 ? "x" : name, role: "input")
            inputNames.append(found)
            inputs.append(t)
        }
        var targets: [Tensor] = [], targetNames: [String] = []
        for name in names.targets {
            let (found, t) = try read(name, fallback: names.targets.count == 1 ? "y" : name, role: "output")
            targetNames.append(found)
            targets.append(t)
        }
        return Dataset(inputs: inputs, targets: targets, inputNames: inputNames, targetNames: targetNames,
                       source: .hdf5(path: path))
    }
}
