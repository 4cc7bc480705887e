/// The parts of `training_config` that decide how a model trains: the optimizer (class and
/// config) and the loss. The whole JSON is kept for writing back.
public struct TrainingConfig: Sendable {
    /// The optimizer's class without tf-keras's "Custom>" registration prefix ("Adam", "SGD", ...).
    public var optimizerClass: String
    /// The optimizer's config object as the file has it (key names differ by Keras version).
    public var optimizerConfig: JSONValue
    /// The loss as a plain name (`binary_crossentropy`, `bce`, ...) when the file stores just a
    /// name, for display; nil for a loss class with a config, whose options a name would hide.
    /// Training reads the whole entry (`Loss.parse(trainingConfig:)` in Training).
    public var loss: String?
    public var json: JSONValue

    public init(json: JSONValue) throws {
        guard let optimizer = json["optimizer_config"], let className = optimizer["class_name"]?.stringValue else {
            throw ModelConfigParser.Failure("training_config has no optimizer_config")
        }
        self.json = json
        self.optimizerClass = className.hasPrefix("Custom>") ? String(className.dropFirst("Custom>".count)) : className
        self.optimizerConfig = optimizer["config"] ?? .object([])
        self.loss = TrainingConfig.lossName(json["loss"])
    }

    public static func parse(_ text: String) throws -> TrainingConfig {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw ModelConfigParser.Failure("training_config is not valid JSON (\(error))")
        }
        return try TrainingConfig(json: json)
    }

    /// Keras writes a loss as a name, as `{"class_name": "BinaryCrossentropy", "config": ...}`,
    /// or (one output) as a one-element list or dict of either. Only a plain name is returned:
    /// a class's config may hold options (from_logits, label_smoothing, ...) that a name drops.
    static func lossName(_ value: JSONValue?) -> String? {
        guard let value else { return nil }
        if let name = value.stringValue { return name }
        if let items = value.arrayValue, items.count == 1 { return lossName(items[0]) }
        if let pairs = value.objectValue, pairs.count == 1, value["class_name"] == nil { return lossName(pairs[0].1) }
        return nil
    }
}

extension TrainingConfig {
    /// The same training config in tf.keras 2.11+'s dialect, which both tf-keras and Keras 3
    /// load: Keras 2.2's `lr` becomes `learning_rate`, its `epsilon: null` (meaning 1e-7)
    /// becomes 1e-7, a zero `decay` (an argument the new optimizers refuse) is dropped, and
    /// `is_legacy_optimizer: false` is said, without which tf-keras builds a legacy optimizer
    /// that cannot take tf.keras 2.11+'s optimizer_weights. The class is registered as
    /// "Custom>Adam" etc., as tf-keras 2.11+ writes it.
    public func tfKerasDialect() -> JSONValue {
        var config = optimizerConfig
        if let lr = config["lr"] {
            if config["learning_rate"] == nil { config.set("learning_rate", lr) }
            config.remove("lr")
        }
        if config["decay"]?.doubleValue == 0 { config.remove("decay") }
        if config["epsilon"]?.isNull == true { config.set("epsilon", .double(1e-7)) }
        config.set("is_legacy_optimizer", .bool(false))
        if config["name"] == nil, case .object(let pairs) = config {
            config = .object([("name", .string(optimizerClass))] + pairs)
        }
        var result = json
        result.set("optimizer_config", .object([("class_name", .string("Custom>" + optimizerClass)), ("config", config)]))
        return result
    }
}
