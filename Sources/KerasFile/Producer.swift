/// Which Keras wrote a file, from its `keras_version`. The three families differ in layout,
/// config dialect and loss semantics.
public enum Producer: Equatable, Sendable, CustomStringConvertible {
    /// Standalone Keras 2.0 to 2.3 (the original question's era, h5py 2.x files).
    case keras2(version: String)
    /// tf.keras / tf-keras 2.x (including TF 1.x's "2.2.4-tf").
    case tfKeras(version: String)
    /// Keras 3, legacy h5 format.
    case keras3(version: String)
    /// No or unrecognised `keras_version`.
    case unknown(version: String?)

    public init(kerasVersion: String?) {
        guard let version = kerasVersion else { self = .unknown(version: nil); return }
        let parts = version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? -1 }
        switch (parts.first, parts.count > 1 ? parts[1] : -1) {
        case (3, _):
            self = .keras3(version: version)
        case (2, let minor) where version.hasSuffix("-tf") || minor >= 4:
            self = .tfKeras(version: version)
        case (2, _), (1, _):
            self = .keras2(version: version)
        default:
            self = .unknown(version: version)
        }
    }

    public var version: String? {
        switch self {
        case .keras2(let v), .tfKeras(let v), .keras3(let v): return v
        case .unknown(let v): return v
        }
    }

    public var description: String {
        switch self {
        case .keras2(let v): return "Keras \(v)"
        case .tfKeras(let v): return "tf.keras \(v)"
        case .keras3(let v): return "Keras \(v)"
        case .unknown(let v): return v.map { "unknown Keras (\($0))" } ?? "unknown Keras"
        }
    }
}

/// The three families of Keras whose layers compute differently (hard_sigmoid's formula,
/// BatchNormalization's moving variance and frozen behaviour); a file of unknown origin is read
/// as tf.keras.
public enum KerasGeneration: String, Equatable, Sendable {
    case keras2, tfKeras, keras3
}

extension Producer {
    public var generation: KerasGeneration {
        switch self {
        case .keras2: return .keras2
        case .keras3: return .keras3
        case .tfKeras, .unknown: return .tfKeras
        }
    }
}
