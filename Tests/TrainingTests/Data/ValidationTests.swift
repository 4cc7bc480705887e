import XCTest
import Kernels
@testable import Training

final class ValidationTests: XCTestCase {
    private func data(_ xShape: [Int], _ yShape: [Int], source: DataSourceDescription = .hdf5(path: "d.h5")) -> Dataset {
        Dataset(x: Tensor(zeros: xShape), y: Tensor(zeros: yShape), source: source)
    }

    private func check(_ d: Dataset, _ input: [Int] = [1, 32, 32], _ k: Int = 2) -> String? {
        dataErrorMessage { try d.validated(modelInputShape: input, outputWidth: k) }
    }

    func testGoodDataPasses() throws {
        let d = Dataset.synthetic(count: 4)
        XCTAssertEqual(try d.validated(modelInputShape: [1, 32, 32], outputWidth: 2), d)
        XCTAssertEqual(try d.validated(modelInputShape: [-1, 32, 32], outputWidth: 2), d, "negative means any size")
    }

    func testImagesWithoutAChannelGetOne() throws {
        let d = data([3, 32, 32], [3, 2])
        XCTAssertEqual(try d.validated(modelInputShape: [1, 32, 32], outputWidth: 2).x.shape, [3, 1, 32, 32])
        XCTAssertEqual(try d.validated(modelInputShape: [32, 32, 1], outputWidth: 2).x.shape, [3, 32, 32, 1])
        XCTAssertEqual(check(d, [3, 32, 32]), "d.h5: x has samples of shape (32, 32) but the model expects (3, 32, 32)")
    }

    func testWrongSampleShape() {
        XCTAssertEqual(check(data([3, 32, 32, 1], [3, 2])),
                       "d.h5: x has samples of shape (32, 32, 1) but the model expects (1, 32, 32) (channels_last data for a channels_first model)")
        XCTAssertEqual(check(data([3, 1, 32, 32], [3, 2]), [32, 32, 1]),
                       "d.h5: x has samples of shape (1, 32, 32) but the model expects (32, 32, 1) (channels_first data for a channels_last model)")
        XCTAssertEqual(check(data([3, 1, 28, 28], [3, 2])), "d.h5: x has samples of shape (1, 28, 28) but the model expects (1, 32, 32)")
    }

    func testLabelsNotMatchingTheOutput() {
        XCTAssertEqual(check(data([3, 1, 32, 32], [3, 3])), "d.h5: y has shape (3, 3) but the model's output needs (3, 2)")
        XCTAssertEqual(check(data([3, 1, 32, 32], [3])),
                       "d.h5: y has shape (3,) but the model's output needs (3, 2) (one-hot labels, one column per output)")
    }

    func testCountsDiffer() {
        XCTAssertEqual(check(data([3, 1, 32, 32], [2, 2])), "d.h5: x has 3 samples but y has 2")
        XCTAssertEqual(check(data([3, 1, 32, 32], [2, 2], source: .npy(xPath: "x.npy", yPath: "y.npy"))),
                       "y.npy: has 2 labels but x.npy has 3 samples")
    }

    func testEmpty() {
        XCTAssertEqual(check(data([0, 1, 32, 32], [0, 2])), "d.h5: holds no samples")
        XCTAssertEqual(check(Dataset.synthetic(count: 0)), "synthetic data (0 samples, seed 0): holds no samples")
    }

    func testNaNAndInfinity() {
        var d = data([3, 1, 32, 32], [3, 2])
        d.x.data[1030] = .nan
        d.x.data[2050] = .infinity
        d.x.data[3000] = .nan
        XCTAssertEqual(check(d), "d.h5: x holds 2 NaN and 1 infinite values; the first is in sample 1 (flat index 1030)")
        var e = data([3, 1, 32, 32], [3, 2], source: .npy(xPath: "x.npy", yPath: "y.npy"))
        e.y.data[5] = -.infinity
        XCTAssertEqual(check(e), "y.npy: y holds 1 infinite value; the first is in sample 2 (flat index 5)")
    }
}
