import KerasFile

/// One optimizer config object read key by key (issue 12): every key is taken by the code that
/// implements it, accepted because it cannot change the math (the reason in a comment beside
/// the `accept`), or refused by name. Refusals are collected, not thrown, so that `inspect`
/// can list all of a file's at once.
public struct OptimizerConfigReader {
    public let flavor: OptimizerFlavor
    private var keys: ConfigKeys
    public private(set) var refusals: [ConfigRefusal] = []

    public init(_ config: JSONValue, className: String, flavor: OptimizerFlavor) {
        self.flavor = flavor
        keys = ConfigKeys(config, scope: "optimizer \(className)")
    }

    public var scope: String { keys.scope }

    /// The raw value (nil when absent or null), marked as handled.
    public mutating func value(_ key: String) -> JSONValue? {
        guard let value = keys.take(key), !value.isNull else { return nil }
        return value
    }

    public func has(_ key: String) -> Bool { keys.object[key].map { !$0.isNull } ?? false }

    /// Present and null (absent is not null).
    public func isNull(_ key: String) -> Bool { keys.object[key]?.isNull == true }

    /// A number, or `fallback` when absent or null; refused (and `fallback` returned) when it is
    /// not a finite number or fails `valid`.
    public mutating func number(_ key: String, _ fallback: Double, valid: (Double) -> Bool = { _ in true },
                                reason: String = "is out of Keras's range") -> Double {
        optionalNumber(key, valid: valid, reason: reason) ?? fallback
    }

    public mutating func optionalNumber(_ key: String, valid: (Double) -> Bool = { _ in true },
                                        reason: String = "is out of Keras's range") -> Double? {
        guard let value = value(key) else { return nil }
        guard let d = value.doubleValue, d.isFinite else {
            refuse(key, "must be a finite number")
            return nil
        }
        guard valid(d) else {
            refuse(key, reason)
            return nil
        }
        return d
    }

    public mutating func flag(_ key: String, _ fallback: Bool) -> Bool {
        guard let value = value(key) else { return fallback }
        guard let b = value.boolValue else {
            refuse(key, "must be true or false")
            return fallback
        }
        return b
    }

    /// Marks keys that cannot change what Relapse computes; the caller says why in a comment.
    public mutating func accept(_ names: String...) {
        for name in names { keys.accept(name) }
    }

    public mutating func refuse(_ key: String, _ reason: String = "is not supported") {
        keys.accept(key)
        refusals.append(keys.refusal(key, reason))
    }

    /// Refusals found inside a nested object (a learning-rate schedule).
    public mutating func add(_ more: [ConfigRefusal]) { refusals += more }

    /// Refuses `key` unless it is absent, null or one of `allowed`.
    public mutating func require(_ key: String, in allowed: [JSONValue], reason: String = "is not supported") {
        if let refusal = keys.require(key, in: allowed, reason: reason) { refusals.append(refusal) }
    }

    /// Everything so far plus the keys nobody took that are not null.
    public func allRefusals() -> [ConfigRefusal] {
        refusals + keys.leftovers()
    }
}
