import Kernels
@testable import Training
import XCTest

/// Class-index labels for sparse_categorical_crossentropy: (n) or (n, 1) integers below the
/// output width; anything else is refused by name before training.
final class LossLabelsTests: XCTestCase {
    func dataset(y: Tensor) -> Dataset {
        Dataset(x: Tensor(zeros: [3, 4]), y: y, source: .synthetic(count: 3, seed: 0))
    }

    func testClassIndicesOfEitherShape() throws {
        for shape in [[3], [3, 1]] {
            let data = try dataset(y: Tensor(shape: shape, data: [0, 2, 1])).validated(modelInputShape: [4], labels: .classIndices(classes: 3))
            XCTAssertEqual(data.y.shape, [3, 1])
            XCTAssertEqual(data.y.data, [0, 2, 1])
        }
    }

    func testRefusals() {
        let cases: [(Tensor, String)] = [
            (Tensor(shape: [3, 3], data: [1, 0, 0, 0, 1, 0, 0, 0, 1]), "y has shape (3, 3) but sparse_categorical_crossentropy needs one class index per sample"),
            (Tensor(shape: [3], data: [0, 2.5, 1]), "y holds 2.5 in sample 1; sparse_categorical_crossentropy needs class indices 0 to 2"),
            (Tensor(shape: [3], data: [0, 3, 1]), "y holds 3.0 in sample 1"),
            (Tensor(shape: [3], data: [-1, 0, 1]), "y holds -1.0 in sample 0"),
            (Tensor(shape: [3], data: [0, .nan, 1]), "y holds nan in sample 1"),
        ]
        for (y, message) in cases {
            XCTAssertThrowsError(try dataset(y: y).validated(modelInputShape: [4], labels: .classIndices(classes: 3))) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
    }

    /// Keras's accuracy with class indices: argmax of the output equals the index.
    func testAccuracyWithClassIndices() {
        let output = Tensor(shape: [3, 3], data: [0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.5, 0.3, 0.2])
        XCTAssertEqual(Accuracy.correct(output: output, labels: Tensor(shape: [3, 1], data: [0, 2, 1])), 2)
    }
}
