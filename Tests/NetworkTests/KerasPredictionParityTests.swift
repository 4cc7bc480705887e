import Foundation
import HDF5
import KerasFile
import Kernels
import Network
import XCTest

/// Forward passes against real tf-keras `predict` on the same inputs (fixtures/ref-predict-*.h5).
final class KerasPredictionParityTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String { root.appendingPathComponent("fixtures/\(name)").path }

    func assertPredictionsMatch(model: String, reference: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let network = try Network(model: try KerasModel.loadFullModel(Self.fixture(model)))
        let data = try File.open(Self.fixture(reference))
        let x = Tensor(try data.root.dataset("x").read())
        let expected = Tensor(try data.root.dataset("pred").read())
        let predicted = try network.forward(x, training: false)
        XCTAssertEqual(predicted.shape, expected.shape, file: file, line: line)
        let worst = zip(predicted.data, expected.data).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-5, "largest absolute difference from Keras", file: file, line: line)
    }

    func testSeedModelMatchesKerasPredict() throws {
        try assertPredictionsMatch(model: "broken-lines-start.h5", reference: "ref-predict-seed.h5")
    }

    func testSequentialChannelsLastMatchesKerasPredict() throws {
        try assertPredictionsMatch(model: "tfk-sequential-channels-last.h5", reference: "ref-predict-sequential.h5")
    }

    func testFlattenWithChannelsFirstMatchesKerasPredict() throws {
        try assertPredictionsMatch(model: "tfk-sgd-momentum-trained.h5", reference: "ref-predict-flatten-channels-first.h5")
    }
}
