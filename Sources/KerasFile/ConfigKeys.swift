/// A setting in a file that Relapse neither computes with Keras's math nor may ignore: training
/// or predicting with it would give results Keras would not. Worded for one line:
/// "layer 'conv2d' (Conv2D): kernel_constraint = {...} is not supported".
public struct ConfigRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where the key sits: "layer 'conv2d' (Conv2D)", "loss", "optimizer Adam", "training_config".
    public var scope: String
    public var key: String
    public var value: JSONValue
    /// Why, ending the sentence: "is not supported", "must divide the input channels (3)".
    public var reason: String

    public init(scope: String, key: String, value: JSONValue, reason: String = "is not supported") {
        self.scope = scope
        self.key = key
        self.value = value
        self.reason = reason
    }

    public var description: String { "\(scope): \(key) = \(value.serialized()) \(reason)" }
}

/// Several refusals at once; thrown where the first one stops a command, listed whole by `inspect`.
public struct ConfigRefusals: Error, Sendable, CustomStringConvertible {
    public var refusals: [ConfigRefusal]

    public init(_ refusals: [ConfigRefusal]) { self.refusals = refusals }

    /// The first refusal, and how many more there are (`inspect` lists them all).
    public var description: String {
        guard let first = refusals.first else { return "no refusals" }
        let more = refusals.count - 1
        return first.description + (more > 0 ? " (and \(more) more setting\(more == 1 ? "" : "s"): relapse inspect lists them)" : "")
    }

    /// Throws when there is anything to refuse.
    public func check() throws {
        if !refusals.isEmpty { throw self }
    }
}

/// One Keras config object read key by key. Every key a reader implements is `take`n; keys that
/// cannot change the math (a layer's `name`) are `accept`ed with the reason in a comment; what is
/// left over and not at Keras's default becomes a refusal. Nothing is ignored by omission.
public struct ConfigKeys: Sendable {
    public let scope: String
    public let object: JSONValue
    private var consumed: Set<String> = []

    public init(_ object: JSONValue, scope: String) {
        self.object = object
        self.scope = scope
    }

    /// The keys the object holds, in its order.
    public var keys: [String] { object.objectValue?.map(\.0) ?? [] }

    /// The value of `key` (nil when absent), marking it as handled.
    public mutating func take(_ key: String) -> JSONValue? {
        consumed.insert(key)
        return object[key]
    }

    /// Marks keys as handled without reading them: keys whose value cannot change what Relapse
    /// computes. Callers say why in a comment.
    public mutating func accept(_ keys: String...) {
        consumed.formUnion(keys)
    }

    /// Marks keys as handled when their value is in `allowed`, else refuses them; absent keys pass.
    public mutating func require(_ key: String, in allowed: [JSONValue], reason: String = "is not supported") -> ConfigRefusal? {
        consumed.insert(key)
        guard let value = object[key], !value.isNull, !allowed.contains(where: { $0.sameNumberOrValue(value) }) else { return nil }
        return ConfigRefusal(scope: scope, key: key, value: value, reason: reason)
    }

    public func refusal(_ key: String, _ reason: String = "is not supported") -> ConfigRefusal {
        ConfigRefusal(scope: scope, key: key, value: object[key] ?? .null, reason: reason)
    }

    /// Keys nobody took. A leftover passes only when it is null (Keras's "not set") or equal
    /// to the value in `defaults`; everything else is refused by name.
    public func leftovers(defaults: [String: JSONValue] = [:]) -> [ConfigRefusal] {
        guard let pairs = object.objectValue else { return [] }
        return pairs.compactMap { key, value in
            if consumed.contains(key) || value.isNull || defaults[key].map({ $0.sameNumberOrValue(value) }) == true { return nil }
            return ConfigRefusal(scope: scope, key: key, value: value)
        }
    }
}

extension JSONValue {
    /// Equal values, counting 1 and 1.0 as one number (Python writes either).
    public func sameNumberOrValue(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case (.int, .double), (.double, .int): return doubleValue == other.doubleValue
        default: return self == other
        }
    }
}
