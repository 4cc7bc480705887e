import Foundation
import KerasFile

/// What a file's `training_config` says about the loss, every key read or refused (issue 12).
public struct TrainingLossConfig: Sendable {
    /// The loss with its options and the `loss_weights` weight; nil when the file names no loss
    /// or its loss entry is refused, and for a model with several outputs (`outputs`).
    public var loss: Loss?
    /// The single output's `loss_weights` (1 when unset); applies to a `--loss` given instead.
    public var weight: Double
    /// A model with several outputs: each output with its weight and its loss (nil: none, or the
    /// loss entry is refused); nil for a single output.
    public var outputs: [OutputLoss]?
    /// Refusals of the loss entry itself: its name or class, its config keys.
    public var lossRefusals: [ConfigRefusal]
    /// Refusals of the other keys: loss_weights, sample_weight_mode, keys Relapse does not know.
    public var otherRefusals: [ConfigRefusal]
    /// Settings accepted that Relapse does not compute (metrics), worded for `inspect`.
    public var notes: [String]

    /// Everything refused, in the file's order of concern: the loss, then the rest.
    public var refusals: [ConfigRefusal] { lossRefusals + otherRefusals }

    /// The loss to train with: nil when the file names none for any output or refuses it.
    public var modelLoss: ModelLoss? {
        guard lossRefusals.isEmpty else { return nil }
        guard let outputs else { return loss.map(ModelLoss.single) }
        return outputs.contains { $0.loss != nil } ? .perOutput(outputs) : nil
    }
}

/// A `--loss` value Relapse cannot use.
public struct LossError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension Loss {
    /// Reads the loss and the compile settings around it from a `training_config` object as
    /// Keras 2.2, tf-keras 2.x or Keras 3 (legacy h5) wrote it. Never throws: callers training
    /// check `refusals`; `inspect` lists them with `notes`.
    public static func parse(trainingConfig json: JSONValue) -> TrainingLossConfig {
        parse(trainingConfig: json, outputs: nil)
    }

    /// The same for `model`, whose outputs name the entries of a per-output `loss` and
    /// `loss_weights`, read by the rules of the Keras `generation` that wrote the file
    /// (`OutputLossParser`); a model with one output reads as `parse(trainingConfig:)`.
    public static func parse(trainingConfig json: JSONValue, model: ModelDefinition, generation: KerasGeneration) -> TrainingLossConfig {
        guard model.outputs.count > 1 else { return parse(trainingConfig: json) }
        return parse(trainingConfig: json, outputs: OutputLossParser(model: model, generation: generation))
    }

    private static func parse(trainingConfig json: JSONValue, outputs: OutputLossParser?) -> TrainingLossConfig {
        var keys = ConfigKeys(json, scope: "training_config")
        // Read by Optimizer(trainingConfig:), which refuses what it does not implement.
        keys.accept("optimizer_config")
        // Keras 3's compile flags. They choose how the same formulas run (eagerly, under XLA,
        // several batches per call, loss scaling that only a float16 policy switches on), not
        // which formulas: accepted at any value.
        keys.accept("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")
        var other: [ConfigRefusal] = []
        if let outputs {
            let lossEntry = keys.take("loss")
            let (weights, weightRefusals) = outputs.weights(keys.take("loss_weights"), loss: lossEntry)
            other += weightRefusals
            if let refusal = keys.require("sample_weight_mode", in: []) { other.append(refusal) }
            let notes = metricNotes(metrics: keys.take("metrics"), weighted: keys.take("weighted_metrics"),
                                    accuracy: outputs.accuracyNames)
            var (losses, lossRefusals) = outputs.losses(lossEntry)
            if lossRefusals.isEmpty, lossEntry.map({ !$0.isNull }) ?? false, losses.allSatisfy({ $0 == nil }) {
                lossRefusals.append(ConfigRefusal(scope: "training_config", key: "loss", value: lossEntry!,
                                                  reason: "names no loss for any output"))
            }
            if !lossRefusals.isEmpty { losses = losses.map { _ in nil } }
            other += keys.leftovers()
            let entries = outputs.names.indices.map {
                OutputLoss(name: outputs.names[$0], historyName: outputs.historyNames[$0], loss: losses[$0], weight: weights[$0])
            }
            return TrainingLossConfig(loss: nil, weight: 1, outputs: entries, lossRefusals: lossRefusals,
                                      otherRefusals: other, notes: notes)
        }
        let (weight, weightRefusal) = lossWeight(keys.take("loss_weights"))
        if let weightRefusal { other.append(weightRefusal) }
        // Keras 2.2's per-timestep weighting; Relapse has no sample weights at all.
        if let refusal = keys.require("sample_weight_mode", in: []) { other.append(refusal) }
        let notes = metricNotes(metrics: keys.take("metrics"), weighted: keys.take("weighted_metrics"))
        var (loss, lossRefusals) = parseEntry(keys.take("loss"), scope: "loss", container: "training_config")
        other += keys.leftovers()
        loss?.weight = weight
        return TrainingLossConfig(loss: lossRefusals.isEmpty ? loss : nil, weight: weight, outputs: nil,
                                  lossRefusals: lossRefusals, otherRefusals: other, notes: notes)
    }

    /// `--loss`: any Keras spelling of a loss (`bce`, `BinaryCrossentropy`, `mse`, ...), or a
    /// Keras loss config as JSON (`{"class_name": "CategoricalCrossentropy", "config":
    /// {"from_logits": true}}`), read with the same rules as a file's.
    public init(commandLine text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value: JSONValue
        if trimmed.hasPrefix("{") {
            do {
                value = try JSONValue.parse(trimmed)
            } catch {
                throw LossError(description: "--loss is not valid JSON (\(error))")
            }
        } else {
            value = .string(trimmed)
        }
        let (loss, refusals) = Loss.parseEntry(value, scope: "--loss", container: "--loss")
        try ConfigRefusals(refusals).check()
        guard let loss else { throw LossError(description: "--loss names no loss") }
        self = loss
    }

    // MARK: The loss entry

    /// A loss as Keras stores it: a name, `{"class_name": ..., "config": {...}}`, Keras 3's
    /// `{"class_name": "function", "config": name}`, or for a single output a one-element list
    /// or `{output name: loss}`. Null means no loss.
    static func parseEntry(_ value: JSONValue?, scope: String, container: String) -> (Loss?, [ConfigRefusal]) {
        guard let value, !value.isNull else { return (nil, []) }
        let outputs = ConfigRefusal(scope: container, key: "loss", value: value,
                                    reason: "is not supported (a loss for each of several outputs; the model has one)")
        if let name = value.stringValue {
            guard let function = LossFunction(kerasName: name) else {
                return (nil, [ConfigRefusal(scope: container, key: "loss", value: value,
                                            reason: "is not a loss Relapse implements (it has \(LossFunction.supportedNames))")])
            }
            return (Loss(function), [])
        }
        if let items = value.arrayValue {
            return items.count == 1 ? parseEntry(items[0], scope: scope, container: container) : (nil, [outputs])
        }
        guard let pairs = value.objectValue else {
            return (nil, [ConfigRefusal(scope: container, key: "loss", value: value, reason: "is not a loss")])
        }
        if value["class_name"] == nil {
            return pairs.count == 1 ? parseEntry(pairs[0].1, scope: scope, container: container) : (nil, [outputs])
        }
        return parseClass(value, scope: scope, container: container)
    }

    /// `{"class_name": "CategoricalCrossentropy", "config": {...}}`, with Keras 3's `module` and
    /// `registered_name` around it.
    private static func parseClass(_ value: JSONValue, scope: String, container: String) -> (Loss?, [ConfigRefusal]) {
        var wrapper = ConfigKeys(value, scope: scope)
        let className = wrapper.take("class_name")?.stringValue ?? ""
        let config = wrapper.take("config")
        var refusals: [ConfigRefusal] = []
        // Keras 3 names the module of a built-in ("keras.losses"); anything else is user code.
        if let module = wrapper.take("module"), !module.isNull, !(module.stringValue?.hasPrefix("keras") ?? false) {
            refusals.append(wrapper.refusal("module", "is not supported (not a Keras built-in loss)"))
        }
        if let registered = wrapper.take("registered_name"), !registered.isNull, registered.stringValue != className {
            refusals.append(wrapper.refusal("registered_name", "is not supported (a registered custom loss)"))
        }
        refusals += wrapper.leftovers()
        if className == "function" {
            let (loss, more) = parseEntry(config, scope: scope, container: container)
            return (refusals.isEmpty ? loss : nil, refusals + more)
        }
        guard let function = LossFunction(kerasName: className) else {
            return (nil, refusals + [ConfigRefusal(scope: container, key: "loss", value: .string(className),
                                                   reason: "is not a loss Relapse implements (it has \(LossFunction.supportedNames))")])
        }
        let (loss, more) = parseConfig(config ?? .object([]), function: function, scope: scope)
        refusals += more
        return (refusals.isEmpty ? loss : nil, refusals)
    }

    /// The config object of a loss class: every key this function takes is read, the rest refused
    /// unless null (tf_keras/src/losses.py and keras/src/losses/losses.py `__init__` arguments).
    private static func parseConfig(_ config: JSONValue, function: LossFunction, scope: String) -> (Loss, [ConfigRefusal]) {
        var keys = ConfigKeys(config, scope: scope)
        var loss = Loss(function)
        var refusals: [ConfigRefusal] = []
        // The name of the loss's metric in the history; no effect on the math.
        keys.accept("name")
        // tf-keras's LossFunctionWrapper records the function it wraps: it must be this one.
        if let fn = keys.take("fn"), !fn.isNull, fn.stringValue.flatMap(LossFunction.init(kerasName:)) != function {
            refusals.append(keys.refusal("fn", "is not supported (not the function of \(function.kerasClassName))"))
        }
        if let refusal = reduction(keys.take("reduction"), into: &loss, keys: keys) { refusals.append(refusal) }
        if let dtype = keys.take("dtype"), !isFloat32(dtype) {
            refusals.append(keys.refusal("dtype", "is not supported (Relapse computes losses in float32)"))
        }
        switch function {
        case .binaryCrossentropy, .categoricalCrossentropy:
            refusals += fromLogits(&keys, into: &loss)
            if let value = keys.take("label_smoothing"), !value.isNull {
                if let s = value.doubleValue, s >= 0, s <= 1 {
                    loss.labelSmoothing = s
                } else {
                    refusals.append(keys.refusal("label_smoothing", "must be a number from 0 to 1"))
                }
            }
            if let refusal = axis(keys.take("axis"), into: &loss, keys: keys) { refusals.append(refusal) }
        case .sparseCategoricalCrossentropy:
            refusals += fromLogits(&keys, into: &loss)
            if let refusal = axis(keys.take("axis"), into: &loss, keys: keys) { refusals.append(refusal) }
            if let refusal = keys.require("ignore_class", in: []) { refusals.append(refusal) }
        case .huber:
            if let value = keys.take("delta"), !value.isNull {
                if let delta = value.doubleValue, delta >= 0 {
                    loss.delta = delta
                } else {
                    refusals.append(keys.refusal("delta", "must be a number from 0 up"))
                }
            }
        default:
            break
        }
        return (loss, refusals + keys.leftovers())
    }

    private static func fromLogits(_ keys: inout ConfigKeys, into loss: inout Loss) -> [ConfigRefusal] {
        guard let value = keys.take("from_logits"), !value.isNull else { return [] }
        guard let flag = value.boolValue else { return [keys.refusal("from_logits", "must be true or false")] }
        loss.fromLogits = flag
        return []
    }

    /// `reduction`: absent means Keras's default. Null is Keras 3's None, no reduction, as `none`
    /// (see LossReduction).
    private static func reduction(_ value: JSONValue?, into loss: inout Loss, keys: ConfigKeys) -> ConfigRefusal? {
        guard let value else { return nil }
        if value.isNull {
            loss.reduction = .none
            return nil
        }
        guard let name = value.stringValue, let reduction = LossReduction(kerasName: name) else {
            return keys.refusal("reduction", "is not supported (Relapse implements sum_over_batch_size, auto, mean, sum and none)")
        }
        loss.reduction = reduction
        return nil
    }

    /// `axis`: an integer, checked against the output's rank when the model is known
    /// (`Loss.resolvingAxis`): only the last axis is computed.
    private static func axis(_ value: JSONValue?, into loss: inout Loss, keys: ConfigKeys) -> ConfigRefusal? {
        guard let value, !value.isNull else { return nil }
        guard let axis = value.intValue else { return keys.refusal("axis", "must be an integer") }
        loss.axis = axis
        return nil
    }

    /// Keras 3's loss dtype: null, "float32", or a float32 DTypePolicy.
    private static func isFloat32(_ value: JSONValue) -> Bool {
        if value.isNull || value.stringValue == "float32" { return true }
        return value["config"]?["name"]?.stringValue == "float32"
    }

    // MARK: The keys around it

    /// `loss_weights` for one output: a number, or a one-element list or dict of one.
    private static func lossWeight(_ value: JSONValue?) -> (Double, ConfigRefusal?) {
        guard let value, !value.isNull else { return (1, nil) }
        if let weight = value.doubleValue { return (weight, nil) }
        let items = value.arrayValue ?? value.objectValue?.map(\.1) ?? []
        if items.count == 1, let weight = items[0].doubleValue { return (weight, nil) }
        return (1, ConfigRefusal(scope: "training_config", key: "loss_weights", value: value,
                                 reason: "is not supported (one number for the one output)"))
    }

    /// Metrics do not change training. Relapse computes Keras's `accuracy` and no other; without
    /// sample weights the weighted metrics equal the plain ones. Anything else is said, not
    /// skipped silently.
    private static func metricNotes(metrics: JSONValue?, weighted: JSONValue?, accuracy: Set<String> = []) -> [String] {
        var notes: [String] = []
        for (key, value) in [("metrics", metrics), ("weighted_metrics", weighted)] {
            let others = metricNames(value).filter { !["accuracy", "acc"].contains($0) && !accuracy.contains($0) }
            if !others.isEmpty {
                notes.append("training_config \(key) \(others.joined(separator: ", ")) not computed (Relapse reports loss and accuracy)")
            }
        }
        return notes
    }

    /// The names in a metrics entry: strings, configs' names, nested per-output lists.
    private static func metricNames(_ value: JSONValue?) -> [String] {
        guard let value, !value.isNull else { return [] }
        if let name = value.stringValue { return [name] }
        if let items = value.arrayValue { return items.flatMap { metricNames($0) } }
        if let name = value["config"]?["name"]?.stringValue ?? value["class_name"]?.stringValue { return [name] }
        return value.objectValue?.flatMap { metricNames($0.1) } ?? []
    }
}
