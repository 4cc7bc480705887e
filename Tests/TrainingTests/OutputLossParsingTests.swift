import KerasFile
import XCTest
@testable import Training

/// `compile`'s `loss` and `loss_weights` for a model with several outputs, as each Keras reads
/// them (tools/multi_io_parity.py trains the same files in tf-keras and Keras 3).
final class OutputLossParsingTests: XCTestCase {
    /// Outputs `cls` and `reg` (a list, or a dict in the config), `aux` third when asked.
    private func model(dict: Bool = false, aux: Bool = false) throws -> ModelDefinition {
        let names = aux ? ["cls", "reg", "aux"] : ["cls", "reg"]
        let outputs = dict ? "{" + names.map { #""\#($0)": ["\#($0)", 0, 0]"# }.joined(separator: ", ") + "}"
            : "[" + names.map { #"["\#($0)", 0, 0]"# }.joined(separator: ", ") + "]"
        let layers = names.map { #"{"class_name": "Dense", "name": "\#($0)", "config": {"name": "\#($0)", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]}"# }
        return try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
              \#(layers.joined(separator: ",\n"))], "input_layers": [["in", 0, 0]], "output_layers": \#(outputs)}}
            """#)
    }

    private func parse(_ text: String, _ generation: KerasGeneration = .tfKeras, dict: Bool = false, aux: Bool = false) throws -> TrainingLossConfig {
        Loss.parse(trainingConfig: try JSONValue.parse(text), model: try model(dict: dict, aux: aux), generation: generation)
    }

    /// Each output's loss (its description, "none") and weight.
    private func summary(_ parsed: TrainingLossConfig) -> [String] {
        (parsed.outputs ?? []).map { "\($0.name): \($0.loss?.description ?? "none") @ \($0.weight)" }
    }

    private func refusals(_ text: String, _ generation: KerasGeneration = .tfKeras, dict: Bool = false) throws -> [String] {
        try parse(text, generation, dict: dict).refusals.map(\.description)
    }

    func testOneLossForEveryOutputAListAndADict() throws {
        for generation in [KerasGeneration.keras2, .tfKeras, .keras3] {
            XCTAssertEqual(summary(try parse(#"{"loss": "mse"}"#, generation)),
                           ["cls: mean_squared_error @ 1.0", "reg: mean_squared_error @ 1.0"])
            let listed = try parse(#"{"loss": ["categorical_crossentropy", {"class_name": "Huber", "config": {"delta": 2.0}}], "loss_weights": [1.0, 0.5]}"#, generation)
            XCTAssertEqual(summary(listed), ["cls: categorical_crossentropy @ 1.0", "reg: huber(delta=2.0) x 0.5 @ 0.5"])
            XCTAssertEqual(listed.refusals, [])
            XCTAssertEqual(listed.modelLoss?.targetOutputs, [0, 1])
            let keyed = try parse(#"{"loss": {"reg": "mae", "cls": "categorical_crossentropy"}, "loss_weights": {"reg": 2, "cls": 0.25}}"#, generation)
            XCTAssertEqual(summary(keyed), ["cls: categorical_crossentropy x 0.25 @ 0.25", "reg: mean_absolute_error x 2.0 @ 2.0"])
        }
    }

    /// An output without a loss (Keras's None) gets no target; its weight is kept for `--loss`.
    func testOutputsWithoutALoss() throws {
        let listed = try parse(#"{"loss": ["categorical_crossentropy", null], "loss_weights": [1.0, 3.0]}"#)
        XCTAssertEqual(summary(listed), ["cls: categorical_crossentropy @ 1.0", "reg: none @ 3.0"])
        XCTAssertEqual(listed.modelLoss?.targetOutputs, [0])
        XCTAssertEqual(listed.modelLoss?.replacingEveryLoss(with: Loss(.meanAbsoluteError)).outputs.map { $0.loss?.description },
                       ["mean_absolute_error", "mean_absolute_error x 3.0"])
        // A dict without an output: no loss for it in Keras 2 and tf.keras (and in Keras 3 where
        // the outputs are a dict); Keras 3 refuses it for a list of outputs.
        for generation in [KerasGeneration.keras2, .tfKeras] {
            XCTAssertEqual(summary(try parse(#"{"loss": {"reg": "mse"}}"#, generation)), ["cls: none @ 1.0", "reg: mean_squared_error @ 1.0"])
        }
        XCTAssertEqual(summary(try parse(#"{"loss": {"reg": "mse"}}"#, .keras3, dict: true)), ["cls: none @ 1.0", "reg: mean_squared_error @ 1.0"])
        XCTAssertEqual(try refusals(#"{"loss": {"reg": "mse"}}"#, .keras3),
                       [#"training_config: loss = {"reg": "mse"} is not supported (Keras 3 needs every output's name in a loss dict; 'cls' is missing)"#])
        let none = try parse(#"{"loss": [null, null]}"#)
        XCTAssertNil(none.modelLoss)
        XCTAssertEqual(none.refusals.map(\.description), ["training_config: loss = [null, null] names no loss for any output"])
        XCTAssertNil(try parse(#"{"loss": null}"#).modelLoss, "no loss at all: train asks for --loss")
    }

    func testLossEntriesKerasWouldPairDifferentlyAreRefusedByName() throws {
        XCTAssertEqual(try refusals(#"{"loss": ["mse"]}"#),
                       [#"training_config: loss = ["mse"] is not supported (1 loss for 2 outputs 'cls', 'reg'; give one per output, null for none)"#])
        XCTAssertEqual(try refusals(#"{"loss": {"cls": "mse", "out": "mae"}}"#),
                       [#"training_config: loss = {"cls": "mse", "out": "mae"} is not supported (names 'out', which is not an output of the model: 'cls', 'reg')"#])
        XCTAssertEqual(try refusals(#"{"loss": ["mse", ["mae"]]}"#), [#"training_config: loss 'reg' = ["mae"] is not a loss"#])
        XCTAssertEqual(try refusals(#"{"loss": ["mse", {"class_name": "Huber", "config": {"delta": -1}}]}"#),
                       ["loss 'reg': delta = -1 must be a number from 0 up"])
        XCTAssertTrue(try refusals(#"{"loss": ["mse", "focal"]}"#)[0].hasPrefix(#"training_config loss 'reg': loss = "focal" is not a loss Relapse implements"#))
        XCTAssertNil(try parse(#"{"loss": ["mse", "focal"]}"#).modelLoss)
    }

    /// One weight for every output: tf.keras broadcasts it; Keras 3 takes it only beside one
    /// loss for every output; Keras 2 rejects it. Keras 3 needs as many losses as weights, and
    /// pairs a dict of weights with a list of losses in sorted key order.
    func testLossWeightsPerGeneration() throws {
        XCTAssertEqual(summary(try parse(#"{"loss": ["mse", "mae"], "loss_weights": 0.5}"#, .tfKeras)),
                       ["cls: mean_squared_error x 0.5 @ 0.5", "reg: mean_absolute_error x 0.5 @ 0.5"])
        XCTAssertEqual(summary(try parse(#"{"loss": "mse", "loss_weights": 0.5}"#, .keras3)),
                       ["cls: mean_squared_error x 0.5 @ 0.5", "reg: mean_squared_error x 0.5 @ 0.5"])
        XCTAssertEqual(try refusals(#"{"loss": ["mse", "mae"], "loss_weights": 0.5}"#, .keras3),
                       ["training_config: loss_weights = 0.5 is not supported (Keras 3 takes one weight only beside one loss for every output; give one per output)"])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "loss_weights": 0.5}"#, .keras2),
                       ["training_config: loss_weights = 0.5 is not supported (Keras 2 takes a list or dict of weights for a model with several outputs)"])
        XCTAssertEqual(summary(try parse(#"{"loss": "mse", "loss_weights": [1, 2]}"#, .tfKeras)).last, "reg: mean_squared_error x 2.0 @ 2.0")
        XCTAssertEqual(try refusals(#"{"loss": "mse", "loss_weights": [1, 2]}"#, .keras3),
                       ["training_config: loss_weights = [1, 2] is not supported (Keras 3 needs as many losses as weights; give the loss as a list too)"])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "loss_weights": [1, 2, 3]}"#),
                       ["training_config: loss_weights = [1, 2, 3] is not supported (3 weights for 2 outputs 'cls', 'reg')"])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "loss_weights": {"cls": 1, "x": 2}}"#),
                       [#"training_config: loss_weights = {"cls": 1, "x": 2} is not supported (names 'x', which is not an output of the model: 'cls', 'reg')"#])
        XCTAssertEqual(try refusals(#"{"loss": "mse", "loss_weights": [1, "a"]}"#),
                       [#"training_config: loss_weights = [1, "a"] is not supported (the weight of 'reg' is not a number)"#])
        // A name missing from a weights dict weighs 1 in tf.keras and Keras 2; Keras 3 refuses it.
        XCTAssertEqual(summary(try parse(#"{"loss": ["mse", "mae"], "loss_weights": {"reg": 4}}"#, .keras2)).first, "cls: mean_squared_error @ 1.0")
        XCTAssertEqual(try refusals(#"{"loss": ["mse", "mae"], "loss_weights": {"reg": 4}}"#, .keras3),
                       [#"training_config: loss_weights = {"reg": 4} is not supported (Keras 3 needs every output's name in a loss_weights dict; 'cls' is missing)"#])
        // Keras 3: a dict of weights beside a list of losses pairs by sorted key, which is the
        // output order here (cls, reg) and not with outputs (cls, reg, aux).
        XCTAssertEqual(try refusals(#"{"loss": ["mse", "mae"], "loss_weights": {"reg": 4, "cls": 1}}"#, .keras3), [])
        XCTAssertEqual(try parse(#"{"loss": ["mse", "mae", "mse"], "loss_weights": {"reg": 4, "cls": 1, "aux": 2}}"#, .keras3, aux: true).refusals.map(\.description),
                       [#"training_config: loss_weights = {"reg": 4, "cls": 1, "aux": 2} is not supported (Keras 3 pairs a dict of weights with a list of losses in sorted key order, not by name; give the weights as a list)"#])
        XCTAssertEqual(summary(try parse(#"{"loss": {"aux": "mae", "cls": "mse", "reg": "mse"}, "loss_weights": {"reg": 4, "cls": 1, "aux": 2}}"#, .keras3, aux: true)),
                       ["cls: mean_squared_error @ 1.0", "reg: mean_squared_error x 4.0 @ 4.0", "aux: mean_absolute_error x 2.0 @ 2.0"])
    }

    /// tf.keras writes each output's accuracy metric as `<output>_accuracy`: Relapse's own.
    func testPerOutputAccuracyMetricsAreRelapsesOwn() throws {
        let tfKeras = #"{"loss": ["mse", "mae"], "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "cls_accuracy", "fn": "categorical_accuracy"}}], [{"class_name": "MeanMetricWrapper", "config": {"name": "reg_auc", "fn": "auc"}}]]}"#
        XCTAssertEqual(try parse(tfKeras).notes, ["training_config metrics reg_auc not computed (Relapse reports loss and accuracy)"])
    }

    /// A model with one output reads as it always has.
    func testOneOutputReadsAsBefore() throws {
        let single = try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]}],
             "input_layers": [["in", 0, 0]], "output_layers": [["out", 0, 0]]}}
            """#)
        let parsed = Loss.parse(trainingConfig: try JSONValue.parse(#"{"loss": {"out": "mse"}, "loss_weights": [2]}"#), model: single, generation: .keras3)
        XCTAssertNil(parsed.outputs)
        XCTAssertEqual(parsed.modelLoss, .single(Loss(.meanSquaredError, weight: 2)))
    }
}
