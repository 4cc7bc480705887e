import KerasFile

/// Reading and writing the `optimizer_config` of a Keras file's `training_config`.
extension Optimizer {
    /// The rules Relapse implements, by Keras class name in lower case (Keras's own
    /// `optimizers.get` takes any case of these names).
    static let rules: [String: any UpdateRule.Type] = [
        "adam": Adam.self, "adamw": AdamW.self, "sgd": SGD.self, "rmsprop": RMSprop.self,
        "adagrad": Adagrad.self, "adadelta": Adadelta.self, "adamax": Adamax.self, "nadam": Nadam.self,
    ]

    /// The class names `rules` knows, as Keras spells them.
    public static let supportedClassNames = ["Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"]

    /// Why a class Relapse has no rule for, or has none for this flavor, is refused.
    static func classRefusal(_ className: String, _ flavor: OptimizerFlavor) -> ConfigRefusal? {
        let scope = "optimizer"
        let value = JSONValue.string(className)
        guard let rule = rules[className.lowercased()] else {
            let why = className.lowercased() == "ftrl"
                ? "is not supported (FTRL-proximal's l1/l2/shrinkage/beta update is not implemented)"
                : "is not supported (Relapse implements \(supportedClassNames.joined(separator: ", ")))"
            return ConfigRefusal(scope: scope, key: "class_name", value: value, reason: why)
        }
        if rule == AdamW.self && flavor == .keras22 {
            return ConfigRefusal(scope: scope, key: "class_name", value: value, reason: "does not exist in Keras 2.2")
        }
        if rule == Nadam.self && flavor == .tfKeras {
            // tf_keras/src/optimizers/nadam.py keeps `_u_product_counter` as a Python int: inside
            // `fit`'s traced train function the comparison with iterations is frozen at tracing,
            // so u_product is multiplied once per variable per step (measured: after 8 steps of a
            // 4-variable model, 1.1e-8 where eager apply_gradients gives 5.6e-3), by a count
            // that depends on how often Keras traced. Neither form can be reproduced reliably.
            return ConfigRefusal(scope: scope, key: "class_name", value: value,
                                 reason: "is not supported for tf-keras 2.11+ files (its fit multiplies u_product by a count that depends on tracing)")
        }
        return nil
    }

    /// Builds an optimizer from `class_name` and a config in any flavor's keys (`lr` and `decay`
    /// of Keras 2.2 included). Throws the first refusal.
    public init(className: String, config: [String: ConfigValue], flavor: OptimizerFlavor) throws {
        let json = JSONValue.object(config.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) })
        try self.init(className: className, json: json, flavor: flavor)
    }

    public init(className: String, json: JSONValue, flavor: OptimizerFlavor) throws {
        let (optimizer, refusals) = Self.read(className: className, json: json, flavor: flavor)
        if let first = refusals.first { throw first }
        self = optimizer!
    }

    /// Every refusal of an optimizer config at once (for `inspect`); empty when it can train.
    public static func refusals(className: String, json: JSONValue, flavor: OptimizerFlavor) -> [ConfigRefusal] {
        read(className: className, json: json, flavor: flavor).1
    }

    static func read(className: String, json: JSONValue, flavor: OptimizerFlavor) -> (Optimizer?, [ConfigRefusal]) {
        if let refusal = classRefusal(className, flavor) { return (nil, [refusal]) }
        let ruleType = rules[className.lowercased()]!
        var reader = OptimizerConfigReader(json.objectValue == nil ? .object([]) : json,
                                           className: ruleType.className, flavor: flavor)
        let rule = ruleType.init(reading: &reader)
        var optimizer = Optimizer(rule, flavor: flavor)
        optimizer.readCommon(&reader)
        return (optimizer, reader.allRefusals())
    }

    /// Takes the keys every optimizer of this flavor shares.
    mutating func readCommon(_ reader: inout OptimizerConfigReader) {
        if let name = reader.value("name") {
            // The name only prefixes the saved variables' names.
            if let s = name.stringValue { self.name = s }
        }
        readLearningRate(&reader)
        let positive = { (x: Double) in x >= 0 }
        switch flavor {
        case .keras22:
            // keras/optimizers.py 2.2.4: Optimizer.__init__ takes clipnorm and clipvalue; every
            // optimizer but Nadam takes decay (Nadam's schedule_decay is its own key).
            if type(of: rule) != Nadam.self {
                decay = reader.number("decay", 0, valid: positive, reason: "must not be negative")
            }
            clipnorm = reader.optionalNumber("clipnorm")
            clipvalue = reader.optionalNumber("clipvalue")
        case .tfKeras, .keras3:
            if let d = reader.value("decay"), d.doubleValue != 0 {
                // tf-keras raises on `decay`; Keras 3 warns and ignores it.
                reader.refuse("decay", "is Keras 2.2's; tf-keras refuses it and Keras 3 ignores it (use a schedule)")
            }
            if type(of: rule) == AdamW.self {
                // adamw.py (both): weight_decay defaults to 0.004; None raises.
                if reader.isNull("weight_decay") {
                    reader.refuse("weight_decay", "must be a number for AdamW (Keras raises on null)")
                }
                weightDecay = reader.number("weight_decay", 0.004)
            } else {
                weightDecay = reader.optionalNumber("weight_decay")
            }
            clipnorm = reader.optionalNumber("clipnorm")
            globalClipnorm = reader.optionalNumber("global_clipnorm")
            clipvalue = reader.optionalNumber("clipvalue")
            if clipnorm != nil && globalClipnorm != nil {
                reader.refuse("global_clipnorm", "cannot be set with clipnorm (Keras raises)")
            }
            if flavor == .keras3 && clipvalue != nil && (clipnorm != nil || globalClipnorm != nil) {
                reader.refuse("clipvalue", "cannot be set with clipnorm or global_clipnorm in Keras 3 (it raises)")
            }
            if reader.flag("use_ema", false) {
                reader.refuse("use_ema", "is not supported (the moving average of the weights is not implemented)")
            }
            // ema_momentum and ema_overwrite_frequency are read only when use_ema is true.
            for key in ["ema_momentum", "ema_overwrite_frequency"] { keepInert(key, &reader) }
            if flavor == .tfKeras {
                // jit_compile: XLA, used by tf-keras only on a GPU; the CPU math is the same.
                keepInert("jit_compile", &reader)
            }
            // is_legacy_optimizer: false names these (2.11+) optimizers; true is the legacy family.
            reader.require("is_legacy_optimizer", in: [.bool(false)],
                           reason: "is not supported (tf.keras's legacy optimizers have other formulas and state)")
            if flavor == .keras3 {
                // Keras 3 multiplies the loss by loss_scale_factor before differentiating and divides
                // the gradients by it (`scale_loss` and `apply` in keras/src/optimizers/base_optimizer.py);
                // the reported loss is unscaled. By a power of two both are exact in float32, so the
                // step is the unscaled one; another factor rounds, and is refused.
                if let factor = reader.value("loss_scale_factor"), !factor.isNull {
                    if let f = factor.doubleValue, f > 0, f.isFinite, f.significandBitPattern == 0, abs(f.exponent) <= 60 {
                        inert["loss_scale_factor"] = factor
                    } else {
                        reader.refuse("loss_scale_factor", "is not supported (only powers of two, which scale the gradients exactly)")
                    }
                }
                reader.require("gradient_accumulation_steps", in: [],
                               reason: "is not supported (gradient accumulation is not implemented)")
            }
        }
    }

    private mutating func keepInert(_ key: String, _ reader: inout OptimizerConfigReader) {
        if let value = reader.value(key) { inert[key] = value }
    }

    /// `learning_rate` (or Keras 2.2's `lr`): a number, or a schedule object in tf-keras and Keras 3.
    private mutating func readLearningRate(_ reader: inout OptimizerConfigReader) {
        let key = flavor == .keras22 ? "lr" : "learning_rate"
        if flavor == .keras22, reader.has("learning_rate") {
            // Keras 2.2 takes only `lr`; Relapse's own Keras 2.2 configs are written with `lr` too.
            if !reader.has("lr") { learningRate = reader.number("learning_rate", learningRate, valid: { $0 > 0 }, reason: "must be positive") }
            else { reader.refuse("learning_rate", "is given with lr") }
        }
        if flavor != .keras22, reader.has("lr") {
            // tf-keras pops `lr` with a warning and ignores it; Keras 3 raises.
            reader.refuse("lr", "is ignored by tf-keras 2.11+ and refused by Keras 3 (use learning_rate)")
        }
        guard let value = reader.value(key) else { return }
        if value.objectValue != nil, flavor != .keras22 {
            switch LearningRateSchedule.read(value, scope: reader.scope) {
            case .success(let schedule): self.schedule = schedule
            case .failure(let refusals): reader.add(refusals.refusals)
            }
            return
        }
        guard let d = value.doubleValue, d.isFinite, d > 0 else {
            reader.refuse(key, value.objectValue != nil ? "is a schedule, which Keras 2.2 does not have" : "must be a positive number")
            return
        }
        learningRate = d
    }

    /// Sets a shared setting by its Keras key (CLI overrides); refuses what this flavor lacks.
    mutating func setCommon(_ key: String, _ value: ConfigValue) throws {
        let d = value.doubleValue
        func positive() throws -> Double {
            guard let d, d.isFinite, d >= 0 else { throw OptimizerError.invalidValue(key: key, value) }
            return d
        }
        switch key {
        case "learning_rate", "lr":
            guard let d, d.isFinite, d > 0 else { throw OptimizerError.invalidValue(key: key, value) }
            learningRate = d
            schedule = nil
        case "decay" where flavor == .keras22: decay = try positive()
        case "weight_decay" where flavor != .keras22: weightDecay = value == .null ? nil : try positive()
        case "clipnorm":
            clipnorm = value == .null ? nil : try positive()
            if clipnorm != nil { globalClipnorm = nil; if flavor == .keras3 { clipvalue = nil } }
        case "clipvalue":
            clipvalue = value == .null ? nil : try positive()
            if clipvalue != nil && flavor == .keras3 { clipnorm = nil; globalClipnorm = nil }
        case "global_clipnorm" where flavor != .keras22:
            globalClipnorm = value == .null ? nil : try positive()
            if globalClipnorm != nil { clipnorm = nil; if flavor == .keras3 { clipvalue = nil } }
        default:
            throw OptimizerError.unsupportedSetting("'\(key)' for \(className) in \(flavor.rawValue)")
        }
    }

    /// The config as this flavor's `get_config` writes it, keys in Keras's order.
    public func config() -> [(String, JSONValue)] {
        let ruleEntries = rule.config(flavor, decay: decay).map { ($0.0, $0.1.json) }
        // Keras keeps the learning rate in a float32 variable and reports that value.
        let lr: JSONValue = schedule?.json ?? .double(Double(Float(learningRate)))
        let optional = { (x: Double?) in x.map(JSONValue.double) ?? .null }
        let kept = { (key: String, fallback: JSONValue) in inert[key] ?? fallback }
        switch flavor {
        case .keras22:
            var out: [(String, JSONValue)] = []
            if let c = clipnorm { out.append(("clipnorm", .double(c))) }
            if let c = clipvalue { out.append(("clipvalue", .double(c))) }
            return out + [("lr", lr)] + ruleEntries
        case .tfKeras:
            let isRMSprop = type(of: rule) == RMSprop.self
            return [("name", .string(name)), ("weight_decay", optional(weightDecay)), ("clipnorm", optional(clipnorm)),
                    ("global_clipnorm", optional(globalClipnorm)), ("clipvalue", optional(clipvalue)),
                    ("use_ema", .bool(false)), ("ema_momentum", kept("ema_momentum", .double(0.99))),
                    ("ema_overwrite_frequency", kept("ema_overwrite_frequency", isRMSprop ? .int(100) : .null)),
                    ("jit_compile", kept("jit_compile", .bool(false))), ("is_legacy_optimizer", .bool(false)),
                    ("learning_rate", lr)] + ruleEntries
        case .keras3:
            return [("name", .string(name)), ("learning_rate", lr), ("weight_decay", optional(weightDecay)),
                    ("clipnorm", optional(clipnorm)), ("global_clipnorm", optional(globalClipnorm)),
                    ("clipvalue", optional(clipvalue)), ("use_ema", .bool(false)),
                    ("ema_momentum", kept("ema_momentum", .double(0.99))),
                    ("ema_overwrite_frequency", kept("ema_overwrite_frequency", .null)),
                    ("loss_scale_factor", kept("loss_scale_factor", .null)), ("gradient_accumulation_steps", .null)] + ruleEntries
        }
    }

    /// The Keras class name to write as `optimizer_config.class_name`.
    public var className: String { type(of: rule).className }
}

extension ConfigValue {
    var json: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        }
    }
}
