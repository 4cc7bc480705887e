/// Reading and writing the `optimizer_config` of a Keras file's `training_config`.
extension Optimizer {
    /// The rules Relapse knows, by Keras class name.
    static let rules: [String: any UpdateRule.Type] = ["adam": Adam.self, "sgd": SGD.self, "rmsprop": RMSprop.self]

    /// Builds an optimizer from `class_name` and `config`, in any flavor's keys (`lr` and
    /// `decay` of Keras 2.2 included). Settings Relapse cannot honour throw.
    public init(className: String, config: [String: ConfigValue], flavor: OptimizerFlavor) throws {
        guard let ruleType = Self.rules[className.lowercased()] else { throw OptimizerError.unknownOptimizer(className) }
        var rest = config
        let rule = try ruleType.init(config: &rest, flavor: flavor)
        self.init(rule, flavor: flavor)
        if let name = rest.removeValue(forKey: "name"), case .string(let s) = name { self.name = s }
        try readCommon(&rest)
        if case .bool(true)? = rest["is_legacy_optimizer"] {
            throw OptimizerError.unsupportedSetting("tf.keras legacy optimizers (is_legacy_optimizer: true)")
        }
        passthrough = rest
    }

    /// Consumes the keys every optimizer shares.
    mutating func readCommon(_ entries: inout [String: ConfigValue]) throws {
        if let lr = entries.removeValue(forKey: "learning_rate") ?? entries.removeValue(forKey: "lr") {
            guard let d = lr.doubleValue else {
                throw OptimizerError.unsupportedSetting("learning_rate \(lr) (schedules are not supported)")
            }
            learningRate = d
        }
        if let d = try entries.takeOptionalDouble("decay") {
            guard flavor == .keras22 || d == 0 else {
                throw OptimizerError.unsupportedSetting("decay outside Keras 2.2 (use a Keras 2.2 flavor)")
            }
            decay = d
        }
        weightDecay = try entries.takeOptionalDouble("weight_decay") ?? weightDecay
        clipnorm = try entries.takeOptionalDouble("clipnorm") ?? clipnorm
        clipvalue = try entries.takeOptionalDouble("clipvalue") ?? clipvalue
        globalClipnorm = try entries.takeOptionalDouble("global_clipnorm") ?? globalClipnorm
        if weightDecay != nil && flavor == .keras22 { throw OptimizerError.unsupportedSetting("weight_decay in Keras 2.2") }
        if globalClipnorm != nil && flavor == .keras22 { throw OptimizerError.unsupportedSetting("global_clipnorm in Keras 2.2") }
        if clipnorm != nil && globalClipnorm != nil {
            throw OptimizerError.unsupportedSetting("both clipnorm and global_clipnorm (Keras refuses this too)")
        }
        if try entries.takeBool("use_ema", false) { throw OptimizerError.unsupportedSetting("use_ema") }
        for key in ["loss_scale_factor", "gradient_accumulation_steps"] {
            if let v = entries.removeValue(forKey: key), v != .null { throw OptimizerError.unsupportedSetting("\(key) = \(v)") }
        }
    }

    /// The config as this flavor's `get_config` writes it, keys in Keras's order.
    public func config() -> [(String, ConfigValue)] {
        let ruleEntries = rule.config(flavor, decay: decay)
        // Keras keeps the learning rate in a float32 variable and reports that value.
        let lr = ConfigValue.double(Double(Float(learningRate)))
        let optional = { (x: Double?) in x.map(ConfigValue.double) ?? .null }
        let pass = { (key: String, fallback: ConfigValue) in passthrough[key] ?? fallback }
        switch flavor {
        case .keras22:
            var out: [(String, ConfigValue)] = []
            if let c = clipnorm { out.append(("clipnorm", .double(c))) }
            if let c = clipvalue { out.append(("clipvalue", .double(c))) }
            return out + [("lr", lr)] + ruleEntries
        case .tfKeras:
            let isRMSprop = type(of: rule).className == "RMSprop"
            return [("name", .string(name)), ("weight_decay", optional(weightDecay)), ("clipnorm", optional(clipnorm)),
                    ("global_clipnorm", optional(globalClipnorm)), ("clipvalue", optional(clipvalue)),
                    ("use_ema", .bool(false)), ("ema_momentum", pass("ema_momentum", .double(0.99))),
                    ("ema_overwrite_frequency", pass("ema_overwrite_frequency", isRMSprop ? .int(100) : .null)),
                    ("jit_compile", pass("jit_compile", .bool(false))), ("is_legacy_optimizer", .bool(false)),
                    ("learning_rate", lr)] + ruleEntries
        case .keras3:
            return [("name", .string(name)), ("learning_rate", lr), ("weight_decay", optional(weightDecay)),
                    ("clipnorm", optional(clipnorm)), ("global_clipnorm", optional(globalClipnorm)),
                    ("clipvalue", optional(clipvalue)), ("use_ema", .bool(false)),
                    ("ema_momentum", pass("ema_momentum", .double(0.99))),
                    ("ema_overwrite_frequency", pass("ema_overwrite_frequency", .null)),
                    ("loss_scale_factor", .null), ("gradient_accumulation_steps", .null)] + ruleEntries
        }
    }

    /// The Keras class name to write as `optimizer_config.class_name`.
    public var className: String { type(of: rule).className }
}
