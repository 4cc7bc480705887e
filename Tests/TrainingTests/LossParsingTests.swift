import Foundation
import KerasFile
@testable import Training
import XCTest

/// `training_config` as each Keras wrote it (the loss entries below were printed from real files
/// saved by tf-keras 2.21 and Keras 3.15.1, and fixtures/keras22-adam.h5 for Keras 2.2.4), read
/// key by key: implemented, accepted with a reason, or refused by name.
final class LossParsingTests: XCTestCase {
    func parse(_ text: String) throws -> TrainingLossConfig {
        Loss.parse(trainingConfig: try JSONValue.parse(text))
    }

    func testKeras22PlainName() throws {
        let parsed = try parse(#"{"loss": "binary_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": null, "loss_weights": null, "optimizer_config": {"class_name": "Adam", "config": {}}}"#)
        XCTAssertEqual(parsed.loss, Loss(.binaryCrossentropy))
        XCTAssertEqual(parsed.refusals, [])
        XCTAssertEqual(parsed.notes, [])
    }

    func testTFKerasClassWithOptions() throws {
        let parsed = try parse(#"{"loss": {"class_name": "CategoricalCrossentropy", "config": {"reduction": "auto", "name": "categorical_crossentropy", "from_logits": true, "label_smoothing": 0.1, "axis": -1, "fn": "categorical_crossentropy"}}, "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]], "weighted_metrics": null, "loss_weights": null}"#)
        XCTAssertEqual(parsed.loss, Loss(.categoricalCrossentropy, fromLogits: true, labelSmoothing: 0.1))
        XCTAssertEqual(parsed.refusals, [])
        XCTAssertEqual(parsed.notes, [])
    }

    func testTFKerasListAndLossWeights() throws {
        let parsed = try parse(#"{"loss": [{"class_name": "SparseCategoricalCrossentropy", "config": {"reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": false, "ignore_class": null, "fn": "sparse_categorical_crossentropy"}}], "metrics": null, "weighted_metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]], "loss_weights": [2.0]}"#)
        XCTAssertEqual(parsed.loss, Loss(.sparseCategoricalCrossentropy, weight: 2))
        XCTAssertEqual(parsed.refusals, [])
    }

    func testTFKerasOutputDictAndHuber() throws {
        XCTAssertEqual(try parse(#"{"loss": {"dense": "mse"}, "loss_weights": {"dense": 0.5}}"#).loss, Loss(.meanSquaredError, weight: 0.5))
        let huber = try parse(#"{"loss": {"class_name": "Huber", "config": {"reduction": "sum", "name": "huber_loss", "delta": 2.0, "fn": "huber"}}}"#)
        XCTAssertEqual(huber.loss, Loss(.huber, delta: 2, reduction: .sum))
    }

    func testKeras3Forms() throws {
        let keras3 = #"{"loss": %@, "loss_weights": 2.0, "metrics": ["accuracy"], "weighted_metrics": null, "run_eagerly": false, "steps_per_execution": 1, "jit_compile": false}"#
        func entry(_ loss: String) throws -> TrainingLossConfig { try parse(keras3.replacingOccurrences(of: "%@", with: loss)) }
        XCTAssertEqual(try entry(#""bce""#).loss, Loss(.binaryCrossentropy, weight: 2))
        XCTAssertEqual(try entry(#"{"class_name": "CategoricalCrossentropy", "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": true, "label_smoothing": 0.1, "axis": -1}}"#).loss,
                       Loss(.categoricalCrossentropy, fromLogits: true, labelSmoothing: 0.1, weight: 2))
        // Keras 3 does not save Huber's delta: the file reloads with 1.
        XCTAssertEqual(try entry(#"{"class_name": "Huber", "config": {"name": "huber_loss", "reduction": "sum_over_batch_size"}}"#).loss, Loss(.huber, weight: 2))
        let wrapped = try entry(#"{"module": "keras.losses", "class_name": "BinaryCrossentropy", "config": {"name": "binary_crossentropy", "reduction": "sum_over_batch_size", "dtype": "float32", "from_logits": true, "label_smoothing": 0.0, "axis": -1}, "registered_name": null}"#)
        XCTAssertEqual(wrapped.loss, Loss(.binaryCrossentropy, fromLogits: true, weight: 2))
        XCTAssertEqual(wrapped.refusals, [])
        XCTAssertEqual(try entry(#"{"class_name": "function", "config": "log_cosh"}"#).loss, Loss(.logcosh, weight: 2))
    }

    func testRefusalsNameKeyAndValue() throws {
        func refusals(_ text: String) throws -> [String] { try parse(text).refusals.map(\.description) }
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "BinaryCrossentropy", "config": {"from_logits": 1}}}"#),
                       ["loss: from_logits = 1 must be true or false"])
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "BinaryCrossentropy", "config": {"reduction": "most"}}}"#),
                       [#"loss: reduction = "most" is not supported (Relapse implements sum_over_batch_size, auto, mean, sum and none)"#])
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "CategoricalCrossentropy", "config": {"axis": "x"}}}"#),
                       [#"loss: axis = "x" must be an integer"#])
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"ignore_class": 255}}}"#),
                       ["loss: ignore_class = 255 is not supported"])
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "MeanSquaredError", "config": {"from_logits": true, "gamma": 2}}}"#),
                       ["loss: from_logits = true is not supported", "loss: gamma = 2 is not supported"])
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "Huber", "config": {"fn": "mean_squared_error"}}}"#),
                       [#"loss: fn = "mean_squared_error" is not supported (not the function of Huber)"#])
        XCTAssertEqual(try refusals(#"{"loss": {"class_name": "Poisson", "config": {"dtype": "float64"}}}"#),
                       [#"loss: dtype = "float64" is not supported (Relapse computes losses in float32)"#])
        XCTAssertEqual(try refusals(#"{"loss": {"module": "my_losses", "class_name": "Poisson", "config": {}, "registered_name": "Custom>Poisson"}}"#),
                       [#"loss: module = "my_losses" is not supported (not a Keras built-in loss)"#,
                        #"loss: registered_name = "Custom>Poisson" is not supported (a registered custom loss)"#])
        let focal = try refusals(#"{"loss": {"class_name": "BinaryFocalCrossentropy", "config": {"gamma": 2.0}}}"#)
        XCTAssertEqual(focal.count, 1)
        XCTAssertTrue(focal[0].hasPrefix(#"training_config: loss = "BinaryFocalCrossentropy" is not a loss Relapse implements (it has binary_crossentropy, "#), focal[0])
        XCTAssertTrue(try refusals(#"{"loss": "cosine_similarity"}"#)[0].hasPrefix(#"training_config: loss = "cosine_similarity" is not a loss"#))
        XCTAssertEqual(try refusals(#"{"loss": ["mse", "mae"]}"#),
                       [#"training_config: loss = ["mse", "mae"] is not supported (a loss for each of several outputs; the model has one)"#])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "loss_weights": [1.0, 2.0]}"#),
                       ["training_config: loss_weights = [1.0, 2.0] is not supported (one number for the one output)"])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "sample_weight_mode": "temporal"}"#),
                       [#"training_config: sample_weight_mode = "temporal" is not supported"#])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "target_tensors": [1]}"#),
                       ["training_config: target_tensors = [1] is not supported"])
    }

    func testRefusedLossGivesNoLossButKeepsTheOtherRefusalsApart() throws {
        let parsed = try parse(#"{"loss": {"class_name": "BinaryCrossentropy", "config": {"from_logits": 2}}, "sample_weight_mode": "temporal", "loss_weights": [3]}"#)
        XCTAssertNil(parsed.loss)
        XCTAssertEqual(parsed.lossRefusals.map(\.key), ["from_logits"])
        XCTAssertEqual(parsed.otherRefusals.map(\.key), ["sample_weight_mode"])
        XCTAssertEqual(parsed.weight, 3)
    }

    /// `none` (and Keras 3's null) is read; its math is in LossReduction and Trainer.reportWeight.
    func testReductionNoneAndTheAxisAgainstTheOutput() throws {
        XCTAssertEqual(try parse(#"{"loss": {"class_name": "BinaryCrossentropy", "config": {"reduction": "none"}}}"#).loss?.reduction, LossReduction.none)
        XCTAssertEqual(try parse(#"{"loss": {"class_name": "MeanSquaredError", "config": {"reduction": null}}}"#).loss?.reduction, LossReduction.none)
        let axis1 = try XCTUnwrap(try parse(#"{"loss": {"class_name": "CategoricalCrossentropy", "config": {"axis": 1}}}"#).loss)
        XCTAssertEqual(axis1.axis, 1)
        XCTAssertEqual(try axis1.resolvingAxis(outputRank: 2), Loss(.categoricalCrossentropy))
        XCTAssertThrowsError(try axis1.resolvingAxis(outputRank: 3)) {
            XCTAssertEqual("\($0)", "loss: axis = 1 is not supported (only the last axis of the output: -1 or 2)")
        }
        let axis0 = try XCTUnwrap(try parse(#"{"loss": {"class_name": "BinaryCrossentropy", "config": {"axis": 0}}}"#).loss)
        XCTAssertThrowsError(try axis0.resolvingAxis(outputRank: 2))
    }

    func testMetricsAreNotedNotSkipped() throws {
        let parsed = try parse(#"{"loss": "mse", "metrics": ["accuracy", "mae"], "weighted_metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "auc", "fn": "auc"}}]]}"#)
        XCTAssertEqual(parsed.refusals, [])
        XCTAssertEqual(parsed.notes, ["training_config metrics mae not computed (Relapse reports loss and accuracy)",
                                      "training_config weighted_metrics auc not computed (Relapse reports loss and accuracy)"])
    }

    func testCommandLineNamesInAnyCase() throws {
        for (text, function) in [("bce", LossFunction.binaryCrossentropy), ("BCE", .binaryCrossentropy), ("BinaryCrossentropy", .binaryCrossentropy),
                                 ("binary_crossentropy", .binaryCrossentropy), ("mse", .meanSquaredError), ("MAE", .meanAbsoluteError),
                                 ("mape", .meanAbsolutePercentageError), ("msle", .meanSquaredLogarithmicError), ("kld", .klDivergence),
                                 ("kullback_leibler_divergence", .klDivergence), ("KLDivergence", .klDivergence), ("huber_loss", .huber),
                                 ("logcosh", .logcosh), ("LogCosh", .logcosh), ("sparse_categorical_crossentropy", .sparseCategoricalCrossentropy),
                                 ("CategoricalHinge", .categoricalHinge), ("squared_hinge", .squaredHinge), ("Poisson", .poisson)] {
            XCTAssertEqual(try Loss(commandLine: text), Loss(function), text)
        }
        XCTAssertEqual(try Loss(commandLine: #"{"class_name": "CategoricalCrossentropy", "config": {"from_logits": true}}"#),
                       Loss(.categoricalCrossentropy, fromLogits: true))
        XCTAssertThrowsError(try Loss(commandLine: "focal")) { XCTAssertTrue("\($0)".contains(#"--loss: loss = "focal" is not a loss Relapse implements"#), "\($0)") }
        XCTAssertThrowsError(try Loss(commandLine: #"{"class_name": "Hinge", "config": {"delta": 2}}"#)) {
            XCTAssertEqual("\($0)", "--loss: delta = 2 is not supported")
        }
    }

    /// What a checkpoint writes back parses to the same loss, options and weight.
    func testKerasJSONRoundTrips() throws {
        let losses = [Loss(.binaryCrossentropy), Loss(.categoricalCrossentropy, fromLogits: true, labelSmoothing: 0.1, reduction: .sum, weight: 0.5),
                      Loss(.sparseCategoricalCrossentropy, fromLogits: true), Loss(.huber, delta: 0.25), Loss(.klDivergence, reduction: .sum)]
        for loss in losses {
            let json = JSONValue.object([("loss", loss.kerasJSON), ("loss_weights", loss.kerasLossWeights)])
            let parsed = Loss.parse(trainingConfig: json)
            XCTAssertEqual(parsed.loss, loss, json.serialized())
            XCTAssertEqual(parsed.refusals, [])
        }
        XCTAssertEqual(Loss(.logcosh).kerasJSON, .string("log_cosh"))
    }

    func testRunStateRecordsOptionsAndReadsOldNames() throws {
        let loss = Loss(.categoricalCrossentropy, fromLogits: true, labelSmoothing: 0.1, reduction: .sum, weight: 0.5)
        let decoded = try JSONDecoder().decode([Loss].self, from: JSONEncoder().encode([loss]))
        XCTAssertEqual(decoded, [loss])
        XCTAssertEqual(try JSONDecoder().decode([Loss].self, from: Data(#"["logcosh", "binary_crossentropy"]"#.utf8)),
                       [Loss(.logcosh), Loss(.binaryCrossentropy)])
    }
}
