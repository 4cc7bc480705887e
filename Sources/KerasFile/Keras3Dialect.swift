/// Keras 3's serialization where it differs from `training_config`: the `compile_config` of a
/// `.keras` file's `config.json`, and (for `relapse convert`) a Keras 3 optimizer config made
/// from a tf.keras or Keras 2.2 one.
public enum Keras3Dialect {
    /// The Keras 3 release whose files Relapse writes and checks against (tools/requirements.txt).
    public static let version = "3.15.1"

    /// `training_config` (the legacy h5 attribute: `compile_config` less `optimizer`, plus
    /// `optimizer_config` of class name and config; Keras 3's legacy/saving/saving_utils.py)
    /// from a `compile_config`, so the same optimizer and loss readers apply. The loss goes
    /// through as Keras wrote it.
    public static func trainingConfig(fromCompileConfig compile: JSONValue) -> JSONValue? {
        guard case .object(let pairs) = compile, let optimizer = compile["optimizer"], !optimizer.isNull else { return nil }
        let className: String
        var config = JSONValue.object([])
        if let name = optimizer.stringValue {
            className = name
        } else {
            className = optimizer["class_name"]?.stringValue ?? "unknown"
            config = optimizer["config"] ?? .object([])
        }
        var result = pairs.filter { $0.0 != "optimizer" }
        result.append(("optimizer_config", .object([("class_name", .string(className)), ("config", config)])))
        return .object(result)
    }

    /// The `compile_config` for `config.json` from a training config: the optimizer as Keras 3's
    /// `serialize_keras_object` writes it (tf-keras's "Custom>" registration dropped), then the
    /// other entries as they are.
    public static func compileConfig(from training: TrainingConfig) -> JSONValue {
        var optimizer = JSONValue.object([
            ("module", .string("keras.optimizers")), ("class_name", .string(training.optimizerClass)),
            ("config", training.optimizerConfig), ("registered_name", .null),
        ])
        // A model compiled with a name (`optimizer="adam"`) keeps that string in tf-keras's
        // compile_config (`Model.get_compile_config` saves the argument as given), and only the
        // string deserializes: no class is called "adam".
        if training.optimizerConfig.objectValue?.isEmpty ?? false, training.optimizerClass.first?.isLowercase ?? false {
            optimizer = .string(training.optimizerClass)
        }
        var pairs: [(String, JSONValue)] = [("optimizer", optimizer)]
        if case .object(let rest) = training.json {
            for (key, value) in rest where key != "optimizer_config" && key != "optimizer" {
                pairs.append((key, key == "metrics" || key == "weighted_metrics" ? metricNames(value) : value))
            }
        }
        return .object(pairs)
    }

    /// The legacy h5's metrics (tf-keras: one list per output of `MeanMetricWrapper` objects,
    /// which the `.keras` loaders cannot deserialize) as the names the user compiled with.
    /// Metrics never change training.
    static func metricNames(_ value: JSONValue) -> JSONValue {
        guard var items = value.arrayValue else { return value }
        if items.count == 1, let inner = items[0].arrayValue { items = inner }
        return .array(items.map { item in
            if item["class_name"]?.stringValue == "MeanMetricWrapper", let name = item["config"]?["name"]?.stringValue {
                return .string(name)
            }
            return item
        })
    }
}
