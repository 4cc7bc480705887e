import Foundation

/// One output of a model with several, and its loss as `compile` gave it.
public struct OutputLoss: Equatable, Sendable, Codable {
    /// The output's name (`ModelDefinition.outputNames`): the key of a loss dict, and the name of
    /// the dataset that holds its targets.
    public var name: String
    /// The name Keras's history gives its loss, `<historyName>_loss`
    /// (`ModelDefinition.historyOutputNames`).
    public var historyName: String
    /// Its `loss_weights` entry (1 where unset), kept for an output without a loss too, which a
    /// loss given later (`--loss`) is weighted by.
    public private(set) var weight: Double
    /// The loss, weighted by `weight`; nil where the output has none (Keras's `None`): it is
    /// computed and predicted, and given no targets.
    public private(set) var loss: Loss?

    public init(name: String, historyName: String? = nil, loss: Loss?, weight: Double = 1) {
        self.name = name
        self.historyName = historyName ?? name
        self.weight = weight
        self.loss = loss.map { var weighted = $0; weighted.weight = weight; return weighted }
    }

    /// The same output with another loss (nil: none), weighted by its own `weight`.
    public func with(loss: Loss?) -> OutputLoss {
        OutputLoss(name: name, historyName: historyName, loss: loss, weight: weight)
    }

    private enum Key: String, CodingKey { case name, historyName = "history_name", weight, loss }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init(name: try c.decode(String.self, forKey: .name), historyName: try c.decode(String.self, forKey: .historyName),
                  loss: try c.decodeIfPresent(Loss.self, forKey: .loss), weight: try c.decode(Double.self, forKey: .weight))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(name, forKey: .name)
        try c.encode(historyName, forKey: .historyName)
        try c.encode(weight, forKey: .weight)
        // Written as null, never left out: a missing loss reads as a mistake, null as None.
        if let loss { try c.encode(loss, forKey: .loss) } else { try c.encodeNil(forKey: .loss) }
    }
}

/// A model's compiled loss: the one output's `Loss`, or one entry per output of a model with
/// several. Keras's total for several outputs is the sum of each output's loss times its
/// `loss_weights` weight, outputs without a loss left out, the regularization penalties added
/// (`LossesContainer.__call__` in tf_keras/src/engine/compile_utils.py, `CompileLoss.call` in
/// keras/src/trainers/compile_utils.py, `compile` in Keras 2.2.4's engine/training.py); each
/// output's gradient flows back from its own loss, and the graph sums what meets.
public enum ModelLoss: Equatable, Sendable {
    case single(Loss)
    /// One entry per output, in the config's flat output order.
    case perOutput([OutputLoss])

    /// Every output's entry: one unnamed entry for a single loss.
    public var outputs: [OutputLoss] {
        switch self {
        case .single(let loss): return [OutputLoss(name: "", loss: loss)]
        case .perOutput(let outputs): return outputs
        }
    }

    /// The outputs that have a loss, in output order: the order of the data's targets.
    public var targetOutputs: [Int] { outputs.indices.filter { outputs[$0].loss != nil } }

    /// Whether a batch reports its per-sample mean and is weighted in the epoch's mean as
    /// `LossReduction.none` has it (`Trainer.reportWeight`).
    public var reducesNone: Bool { outputs.contains { $0.loss?.reduction == LossReduction.none } }

    /// The outputs whose losses `fit`'s history reports as `<name>_loss` beside `loss`: tf.keras
    /// and Keras 2.2 every output that has a loss when the model has several outputs
    /// (`LossesContainer._create_metrics`; `compile` in Keras 2.2.4's engine/training.py);
    /// Keras 3 only when more than one output has a loss (`CompileLoss.build`: "if
    /// len(self._flat_losses) > 1").
    public func reportedOutputs(semantics: LossSemantics) -> [Int] {
        guard case .perOutput = self else { return [] }
        let targets = targetOutputs
        switch semantics {
        case .keras22, .tfKeras: return targets
        case .keras3, .keras3TensorFlow: return targets.count > 1 ? targets : []
        }
    }

    /// An epoch's (or a validation pass's) losses as Keras's history names them: `loss`, and
    /// `accuracy` for a model with one output; with several, `<name>_loss` for the outputs whose
    /// losses Keras reports (`reportedOutputs`) and `<name>_accuracy` for each output with a loss
    /// (Keras's name for the `accuracy` metric of one output). `outputLosses` and
    /// `outputAccuracies` follow `targetOutputs`.
    public func historyValues(loss: Double, accuracy: Double, outputLosses: [Double], outputAccuracies: [Double],
                              semantics: LossSemantics) -> [String: Double] {
        guard case .perOutput(let outputs) = self else { return ["loss": loss, "accuracy": accuracy] }
        var values = ["loss": loss]
        let reported = Set(reportedOutputs(semantics: semantics))
        for (j, k) in targetOutputs.enumerated() where j < outputLosses.count && j < outputAccuracies.count {
            if reported.contains(k) { values[outputs[k].historyName + "_loss"] = outputLosses[j] }
            values[outputs[k].historyName + "_accuracy"] = outputAccuracies[j]
        }
        return values
    }

    /// The same outputs, each with `loss` (with that output's weight), as `compile(loss=loss)`
    /// broadcasts one loss to every output: what `--loss` means for a model with several.
    public func replacingEveryLoss(with loss: Loss) -> ModelLoss {
        switch self {
        case .single(let old):
            var new = loss
            new.weight = old.weight
            return .single(new)
        case .perOutput(let outputs):
            return .perOutput(outputs.map { $0.with(loss: loss) })
        }
    }
}

extension ModelLoss: CustomStringConvertible {
    /// `binary_crossentropy`, or `cls: categorical_crossentropy, reg: mean_squared_error x 0.5, aux: none`.
    public var description: String {
        switch self {
        case .single(let loss): return loss.description
        case .perOutput(let outputs):
            return outputs.map { "\($0.name): \($0.loss?.description ?? "none")" }.joined(separator: ", ")
        }
    }
}

/// Recorded in a checkpoint's `RunState` as `loss`: a single output's loss exactly as Relapse
/// has always written it (so such checkpoints are unchanged), several outputs as
/// `{"outputs": [{"name": ..., "history_name": ..., "loss": {...} or null}, ...]}`.
extension ModelLoss: Codable {
    private enum Key: String, CodingKey { case outputs }

    public init(from decoder: Decoder) throws {
        if let c = try? decoder.container(keyedBy: Key.self), c.contains(.outputs) {
            let outputs = try c.decode([OutputLoss].self, forKey: .outputs)
            guard outputs.count > 1 else {
                throw DecodingError.dataCorruptedError(forKey: .outputs, in: c, debugDescription: "a per-output loss needs several outputs")
            }
            self = .perOutput(outputs)
            return
        }
        self = .single(try Loss(from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .single(let loss): try loss.encode(to: encoder)
        case .perOutput(let outputs):
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(outputs, forKey: .outputs)
        }
    }
}
