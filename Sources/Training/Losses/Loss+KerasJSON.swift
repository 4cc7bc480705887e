import KerasFile

extension Loss {
    /// The `loss` entry of a `training_config` that tf-keras 2.x and Keras 3 both compile back
    /// into this loss: the function's name when every option is Keras's default, else the class
    /// with the options that differ (both accept `sum_over_batch_size`; only tf-keras knows
    /// `auto`). The weight goes in `loss_weights` (`kerasLossWeights`).
    public var kerasJSON: JSONValue {
        var plain = self
        plain.weight = 1
        if plain.isPlainName { return .string(function.rawValue) }
        var config: [(String, JSONValue)] = [("name", .string(function.rawValue)), ("reduction", .string(reduction.rawValue))]
        switch function {
        case .binaryCrossentropy, .categoricalCrossentropy:
            config += [("from_logits", .bool(fromLogits)), ("label_smoothing", .double(labelSmoothing)), ("axis", .int(-1))]
        case .sparseCategoricalCrossentropy:
            config += [("from_logits", .bool(fromLogits)), ("ignore_class", .null)]
        case .huber:
            config.append(("delta", .double(delta)))
        default:
            break
        }
        return .object([("class_name", .string(function.kerasClassName)), ("config", .object(config))])
    }

    /// `loss_weights` for the one output: null for 1, as Keras writes an unset weight.
    public var kerasLossWeights: JSONValue { weight == 1 ? .null : .array([.double(weight)]) }
}
