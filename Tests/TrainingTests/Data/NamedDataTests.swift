import Foundation
import XCTest
import HDF5
import Kernels
@testable import Training

/// Data for a model with several inputs or outputs: one dataset per input and per output with a
/// loss, named as the model names them; `x`/`y` still stand for an only input/target; every
/// mismatch is one message naming the file and the dataset.
final class NamedDataTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = try makeTemporaryDirectory(self)
    }

    private func write(_ name: String, _ datasets: [(String, [Int], [Float])]) throws -> String {
        let path = folder + "/" + name
        let file = try File.create(path)
        for (dataset, shape, values) in datasets {
            try file.root.createDataset(dataset, values: NumericArray(shape: shape, floats: values))
        }
        try file.flush()
        return path
    }

    private let names = DataNames(inputs: ["img", "vec"], targets: ["cls", "reg"], outputCount: 2)

    private func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testOneDatasetPerInputAndTargetByName() throws {
        let path = try write("mio.h5", [("vec", [3, 2], [1, 2, 3, 4, 5, 6]), ("img", [3, 1], [7, 8, 9]),
                                        ("reg", [3, 1], [0.5, 1.5, 2.5]), ("cls", [3, 2], [1, 0, 0, 1, 1, 0]), ("x", [3, 1], [0, 0, 0])])
        let data = try Dataset.hdf5(path: path, names: names)
        XCTAssertEqual(data.inputs, [Tensor(shape: [3, 1], data: [7, 8, 9]), Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])])
        XCTAssertEqual(data.targets.map(\.shape), [[3, 2], [3, 1]])
        XCTAssertEqual(data.inputNames, ["img", "vec"])
        XCTAssertEqual(data.targetNames, ["cls", "reg"])
        let checked = try data.validated(inputShapes: [[1], [2]], labels: [.valuesOfShape([2]), .valuesOfShape([1])])
        XCTAssertEqual(checked.samples(1..<3).inputs[1].data, [3, 4, 5, 6])
        XCTAssertEqual(checked.samples(1..<3).targets[1].data, [1.5, 2.5])
        var batch = checked.makeBatch(batchSize: 2)
        checked.batch(indices: [2, 0], into: &batch)
        XCTAssertEqual(batch.inputs.map(\.data), [[9, 7], [5, 6, 1, 2]])
        XCTAssertEqual(batch.targets.map(\.data), [[1, 0, 1, 0], [2.5, 0.5]])
        let (training, validation) = try checked.validationSplit(0.34)
        XCTAssertEqual(training.count, 1)
        XCTAssertEqual(validation.targets[0].shape, [2, 2])
        // A single-array data set's fingerprint is unchanged by the generalisation: x, then y.
        let single = Dataset(x: Tensor(shape: [1, 1], data: [3]), y: Tensor(shape: [1, 1], data: [4]), source: .inMemory(name: "t"))
        var hash = FNV1a64()
        hash.add(shape: [1, 1], values: [3])
        hash.add(shape: [1, 1], values: [4])
        XCTAssertEqual(single.fingerprint, hash.hex)
    }

    /// `x` stands for a model's only input and `y` for its only target, beside named datasets.
    func testXAndYStandForAnOnlyInputAndTarget() throws {
        let path = try write("xy.h5", [("x", [2, 3], [1, 2, 3, 4, 5, 6]), ("cls", [2, 2], [1, 0, 0, 1]), ("reg", [2, 1], [1, 2])])
        let data = try Dataset.hdf5(path: path, names: DataNames(inputs: ["img"], targets: ["cls", "reg"], outputCount: 2))
        XCTAssertEqual(data.inputNames, ["x"])
        XCTAssertEqual(data.x.shape, [2, 3])
        let oneTarget = try Dataset.hdf5(path: try write("y.h5", [("img", [2, 3], [1, 2, 3, 4, 5, 6]), ("vec", [2, 1], [1, 2]), ("y", [2, 2], [1, 0, 0, 1])]),
                                         names: DataNames(inputs: ["img", "vec"], targets: ["cls"], outputCount: 2))
        XCTAssertEqual(oneTarget.targetNames, ["y"])
        // A model with one input and one output reads named datasets where the file has no x/y.
        let named = try Dataset.hdf5(path: try write("single.h5", [("in", [2, 1], [1, 2]), ("out", [2, 1], [3, 4])]),
                                     names: DataNames(inputs: ["in"], targets: ["out"], outputCount: 1))
        XCTAssertEqual(named.x.data, [1, 2])
        XCTAssertEqual(named.y.data, [3, 4])
        XCTAssertEqual(try Dataset.inputs(path: folder + "/xy.h5", names: ["img"], shapes: [[3]]).map(\.shape), [[2, 3]])
    }

    func testMismatchesAreOneLineNamingTheFileAndDataset() throws {
        let path = try write("bad.h5", [("img", [3, 1], [1, 2, 3]), ("cls", [3, 2], [1, 0, 0, 1, 1, 0]), ("reg", [3, 1], [1, 2, 3]), ("x", [3, 1], [0, 0, 0])])
        XCTAssertEqual(message { try Dataset.hdf5(path: path, names: self.names) },
                       "\(path): has no dataset 'vec' for the model's input 'vec' (it holds: cls, img, reg, x)")
        XCTAssertEqual(message { try Dataset.hdf5(path: path, names: DataNames(inputs: ["img"], targets: ["cls", "out"], outputCount: 2)) },
                       "\(path): has no dataset 'out' for the model's output 'out' (it holds: cls, img, reg, x)")
        XCTAssertEqual(try Dataset.inputs(path: path, names: ["in"], shapes: [[1]])[0].data, [0, 0, 0], "x stands for the only input")
        let noX = try write("nox.h5", [("img", [3, 1], [1, 2, 3])])
        XCTAssertEqual(message { try Dataset.inputs(path: noX, names: ["in"], shapes: [[1]]) },
                       "\(noX): has no dataset 'in' for the model's input 'in' (nor 'x', which stands for a model's only input) (it holds: img)")
        let counts = try write("counts.h5", [("img", [3, 1], [1, 2, 3]), ("vec", [2, 2], [1, 2, 3, 4]), ("cls", [3, 2], [1, 0, 0, 1, 1, 0]), ("reg", [4, 1], [1, 2, 3, 4])])
        let loaded = try Dataset.hdf5(path: counts, names: names)
        XCTAssertEqual(message { try loaded.validated(inputShapes: [[1], [2]], labels: [.values(width: 2), .values(width: 1)]) },
                       "\(counts): vec has 2 samples but img has 3")
        var fixed = loaded
        fixed.inputs[1] = Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(message { try fixed.validated(inputShapes: [[1], [2]], labels: [.values(width: 2), .values(width: 1)]) },
                       "\(counts): reg has 4 samples but img has 3")
        fixed.targets[1] = Tensor(shape: [3, 1], data: [1, 2, .nan])
        XCTAssertEqual(message { try fixed.validated(inputShapes: [[1], [3]], labels: [.values(width: 2), .values(width: 1)]) },
                       "\(counts): vec has samples of shape (2,) but the model expects (3,)")
        XCTAssertEqual(message { try fixed.validated(inputShapes: [[1], [2]], labels: [.values(width: 3), .values(width: 1)]) },
                       "\(counts): cls has shape (3, 2) but the model's output needs (3, 3)")
        XCTAssertEqual(message { try fixed.validated(inputShapes: [[1], [2]], labels: [.values(width: 2), .values(width: 1)]) },
                       "\(counts): reg holds 1 NaN value; the first is in sample 2 (flat index 2)")
        XCTAssertEqual(message { try fixed.validated(inputShapes: [[1], [2]], labels: [.classIndices(classes: 2), .values(width: 1)]) },
                       "\(counts): cls has shape (3, 2) but sparse_categorical_crossentropy needs one class index per sample, (3,) or (3, 1)")
    }

    /// The single-array sources hold one input and one target: refused by name for other models.
    func testSingleArraySourcesAreRefusedForSeveralInputsOrOutputs() throws {
        XCTAssertEqual(message { try Dataset.open(.synthetic(count: 4, seed: 0), names: self.names) },
                       "synthetic data (4 samples, seed 0): gives one input and one target array, but the model has inputs 'img', 'vec' and targets 'cls', 'reg'; give --data FILE.h5 with one dataset named after each")
        XCTAssertEqual(message { try Dataset.open(.npy(xPath: "a.npy", yPath: "b.npy"), names: DataNames(inputs: ["img"], targets: ["cls"], outputCount: 2)) },
                       "a.npy: gives one input and one target array, but the model has input 'img' and target 'cls'; give --data FILE.h5 with one dataset named after each")
    }
}
