import Foundation
import XCTest
@testable import Training

final class ModelLossTests: XCTestCase {
    private let perOutput = ModelLoss.perOutput([
        OutputLoss(name: "cls", historyName: "cls_layer", loss: Loss(.categoricalCrossentropy)),
        OutputLoss(name: "aux", loss: nil, weight: 3),
        OutputLoss(name: "reg", loss: Loss(.meanSquaredError, reduction: .sum), weight: 0.5),
    ])

    /// A single loss is recorded exactly as before (older Relapse reads it), several outputs as
    /// a list of entries; both read back equal.
    func testCheckpointCoding() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let single = ModelLoss.single(Loss(.binaryCrossentropy, weight: 2))
        XCTAssertEqual(try encoder.encode(single), try encoder.encode(Loss(.binaryCrossentropy, weight: 2)))
        XCTAssertEqual(try JSONDecoder().decode(ModelLoss.self, from: try encoder.encode(single)), single)
        XCTAssertEqual(try JSONDecoder().decode(ModelLoss.self, from: Data(#""logcosh""#.utf8)), .single(Loss(.logcosh)))
        let text = String(decoding: try encoder.encode(perOutput), as: UTF8.self)
        XCTAssertTrue(text.contains(#"{"history_name":"aux","loss":null,"name":"aux","weight":3}"#), text)
        XCTAssertEqual(try JSONDecoder().decode(ModelLoss.self, from: Data(text.utf8)), perOutput)
        XCTAssertThrowsError(try JSONDecoder().decode(ModelLoss.self, from: Data(#"{"outputs": [{"name": "a", "history_name": "a", "weight": 1, "loss": null}]}"#.utf8)))
    }

    /// Keras's history: tf.keras and Keras 2.2 report every output with a loss; Keras 3 only when
    /// more than one output has one.
    func testWhichOutputsTheHistoryReports() {
        XCTAssertEqual(perOutput.targetOutputs, [0, 2])
        XCTAssertEqual(perOutput.reportedOutputs(semantics: .tfKeras), [0, 2])
        XCTAssertEqual(perOutput.reportedOutputs(semantics: .keras3TensorFlow), [0, 2])
        let oneLoss = ModelLoss.perOutput([OutputLoss(name: "a", loss: Loss(.meanSquaredError)), OutputLoss(name: "b", loss: nil)])
        XCTAssertEqual(oneLoss.reportedOutputs(semantics: .keras22), [0])
        XCTAssertEqual(oneLoss.reportedOutputs(semantics: .keras3), [])
        XCTAssertEqual(ModelLoss.single(Loss(.meanSquaredError)).reportedOutputs(semantics: .tfKeras), [])
    }

    func testOneLossForEveryOutputKeepsEachWeight() {
        let replaced = perOutput.replacingEveryLoss(with: Loss(.huber, delta: 2))
        XCTAssertEqual(replaced.outputs.map { $0.loss?.weight }, [1, 3, 0.5])
        XCTAssertEqual(replaced.outputs.map { $0.loss?.function }, [.huber, .huber, .huber])
        XCTAssertEqual(replaced.targetOutputs, [0, 1, 2])
        XCTAssertEqual(ModelLoss.single(Loss(.meanSquaredError, weight: 4)).replacingEveryLoss(with: Loss(.poisson)), .single(Loss(.poisson, weight: 4)))
        XCTAssertTrue(perOutput.reducesNone == false)
        XCTAssertEqual("\(perOutput)", "cls: categorical_crossentropy, aux: none, reg: mean_squared_error(reduction=sum) x 0.5")
    }

    func testHistoryNamesEachOutputAsKerasDoes() {
        XCTAssertEqual(perOutput.historyValues(loss: 3, accuracy: .nan, outputLosses: [1, 4], outputAccuracies: [0.5, 0.25], semantics: .tfKeras),
                       ["loss": 3, "cls_layer_loss": 1, "reg_loss": 4, "cls_layer_accuracy": 0.5, "reg_accuracy": 0.25])
        let oneLoss = ModelLoss.perOutput([OutputLoss(name: "a", loss: Loss(.meanSquaredError)), OutputLoss(name: "b", loss: nil)])
        XCTAssertEqual(oneLoss.historyValues(loss: 2, accuracy: 1, outputLosses: [2], outputAccuracies: [1], semantics: .keras3),
                       ["loss": 2, "a_accuracy": 1])
        XCTAssertEqual(oneLoss.historyValues(loss: 2, accuracy: 1, outputLosses: [2], outputAccuracies: [1], semantics: .tfKeras),
                       ["loss": 2, "a_loss": 2, "a_accuracy": 1])
        XCTAssertEqual(ModelLoss.single(Loss(.meanSquaredError)).historyValues(loss: 2, accuracy: 0.5, outputLosses: [], outputAccuracies: [], semantics: .tfKeras),
                       ["loss": 2, "accuracy": 0.5])
    }
}
