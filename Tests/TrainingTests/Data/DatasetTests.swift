import XCTest
import Kernels
@testable import Training

final class DatasetTests: XCTestCase {
    /// Keras's `int(n * (1. - fraction))` in float64: 90 samples at 0.3 keep 62 for training,
    /// not the 63 exact arithmetic gives.
    func testValidationSplitIndexIsKeras() {
        XCTAssertEqual(Dataset.validationSplitIndex(count: 90, fraction: 0.3), 62)
        XCTAssertEqual(Dataset.validationSplitIndex(count: 10, fraction: 0.3), 7)
        XCTAssertEqual(Dataset.validationSplitIndex(count: 100, fraction: 0.1), 90)
        XCTAssertEqual(Dataset.validationSplitIndex(count: 20, fraction: 0.9), 1)
        XCTAssertEqual(Dataset.validationSplitIndex(count: 3, fraction: 0.5), 1)
    }

    func testValidationSplitTakesTheLastSamples() throws {
        let d = Dataset.synthetic(count: 90, seed: 2)
        let (training, validation) = try d.validationSplit(0.3)
        XCTAssertEqual(training.count, 62)
        XCTAssertEqual(validation.count, 28)
        XCTAssertEqual(training.x.data, Array(d.x.data[0..<(62 * 1024)]))
        XCTAssertEqual(validation.x.data, Array(d.x.data[(62 * 1024)...]))
        XCTAssertEqual(validation.y.data, Array(d.y.data[(62 * 2)...]))
        XCTAssertEqual(validation.x.shape, [28, 1, 32, 32])
        XCTAssertEqual(validation.source, d.source)
    }

    func testValidationSplitErrors() {
        let d = Dataset.synthetic(count: 10)
        XCTAssertEqual(dataErrorMessage { try d.validationSplit(0.95) },
                       "synthetic data (10 samples, seed 0): 10 samples are not enough to split into training and validation sets with validation split 0.95 (0 would be left for training)")
        XCTAssertEqual(dataErrorMessage { try d.validationSplit(1) },
                       "synthetic data (10 samples, seed 0): validation split 1.0 is not between 0 and 1")
        XCTAssertEqual(dataErrorMessage { try d.validationSplit(1e-17) },
                       "synthetic data (10 samples, seed 0): 10 samples are not enough to split into training and validation sets with validation split 1e-17 (10 would be left for training)")
    }

    func testBatchGathersIntoReusedTensors() {
        let d = Dataset.synthetic(count: 10, seed: 1)
        var (bx, by) = d.makeBatchTensors(batchSize: 4)
        d.batch(indices: [7, 2, 9, 0], x: &bx, y: &by)
        XCTAssertEqual(bx.shape, [4, 1, 32, 32])
        XCTAssertEqual(Array(bx.data[1024..<2048]), Array(d.x.data[(2 * 1024)..<(3 * 1024)]))
        XCTAssertEqual(by.data, [7, 2, 9, 0].flatMap { Array(d.y.data[($0 * 2)..<($0 * 2 + 2)]) })
        let storage = bx.data.withUnsafeBufferPointer { $0.baseAddress }
        d.batch(indices: [3, 5], x: &bx, y: &by)
        XCTAssertEqual(bx.shape, [2, 1, 32, 32])
        XCTAssertEqual(by.shape, [2, 2])
        XCTAssertEqual(bx.data, Array(d.x.data[(3 * 1024)..<(4 * 1024)] + d.x.data[(5 * 1024)..<(6 * 1024)]))
        d.batch(indices: [1, 2, 3, 4], x: &bx, y: &by)
        XCTAssertEqual(bx.data.withUnsafeBufferPointer { $0.baseAddress }, storage, "the last, short batch kept the storage")
        XCTAssertEqual(d.batch(indices: [6, 8]).x.data, Array(d.x.data[(6 * 1024)..<(7 * 1024)] + d.x.data[(8 * 1024)..<(9 * 1024)]))
    }

    func testFingerprintCoversShapeAndBits() {
        let a = Dataset(x: Tensor(shape: [2, 1], data: [0, 1]), y: Tensor(shape: [2, 1], data: [1, 0]), source: .inMemory(name: "a"))
        var b = a
        b.x.shape = [1, 2]
        XCTAssertNotEqual(a.fingerprint, b.fingerprint)
        var c = a
        c.x.data[0] = -0.0
        XCTAssertNotEqual(a.fingerprint, c.fingerprint)
        var d = a
        d.source = .hdf5(path: "elsewhere.h5")
        XCTAssertEqual(a.fingerprint, d.fingerprint, "the data, not where it came from")
        XCTAssertEqual(a.fingerprint.count, 16)
        // FNV-1a 64 of the empty input and of "a", the published test vectors.
        XCTAssertEqual(FNV1a64().hex, "cbf29ce484222325")
        var h = FNV1a64()
        h.add("a")
        XCTAssertEqual(h.hex, "af63dc4c8601ec8c")
    }

    func testSourceDescriptionRoundTrips() throws {
        let sources: [DataSourceDescription] = [
            .synthetic(count: 100, seed: 18_446_744_073_709_551_615),
            .synthetic(count: 3, seed: 0, noise: 0.05),
            .hdf5(path: "/data/lines.h5"),
            .npy(xPath: "x.npy", yPath: "dir/y.npy"),
            .inMemory(name: "test"),
        ]
        for source in sources {
            XCTAssertEqual(try DataSourceDescription(dictionary: source.dictionary), source)
            XCTAssertEqual(try DataSourceDescription(json: source.json), source)
        }
        XCTAssertEqual(DataSourceDescription.synthetic(count: 5, seed: 1).json, #"{"count":"5","kind":"synthetic","seed":"1"}"#)
        XCTAssertEqual(DataSourceDescription.hdf5(path: "/a/b.h5").json, #"{"kind":"hdf5","path":"/a/b.h5"}"#)
        // A RunSetupError: RunSetup.withFile puts the checkpoint's name in front (issue 16).
        XCTAssertThrowsError(try DataSourceDescription(dictionary: ["kind": "synthetic", "count": "5"])) { error in
            XCTAssertEqual("\(error)", "cannot read the recorded data source [count=5, kind=synthetic]: no 'seed'")
        }
        XCTAssertThrowsError(try DataSourceDescription(json: "[1]")) { error in
            XCTAssertEqual("\(error)", "cannot read the recorded data source [1]")
        }
        XCTAssertEqual(DataSourceDescription.npy(xPath: "/x.npy", yPath: "y.npy").withAbsolutePaths,
                       .npy(xPath: "/x.npy", yPath: FileManager.default.currentDirectoryPath + "/y.npy"))
    }
}
