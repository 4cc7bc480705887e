import Foundation

/// Where a data set came from, in enough detail for a checkpoint to record it and a resume to
/// open the same data again. Paths are kept as given (so messages show what the user typed);
/// `withAbsolutePaths` is the form to record for a resume from another directory.
public enum DataSourceDescription: Equatable, Sendable {
    /// The built-in broken-lines generator; `noise` 0 is the default, clean set.
    case synthetic(count: Int, seed: UInt64, noise: Float = 0)
    /// An HDF5 file with `x` and `y`, or with `full` and `broken`.
    case hdf5(path: String)
    /// A pair of NumPy `.npy` files.
    case npy(xPath: String, yPath: String)
    /// Data built in memory (tests, tools); it cannot be reopened.
    case inMemory(name: String)

    /// What error messages call the source of `x` (or of `y`): the file that holds it.
    public func name(of part: DataPart) -> String {
        switch self {
        case let .synthetic(count, seed, noise):
            return "synthetic data (\(count) samples, seed \(seed)\(noise == 0 ? "" : ", noise \(noise)"))"
        case .hdf5(let path): return path
        case let .npy(xPath, yPath): return part == .x ? xPath : yPath
        case .inMemory(let name): return name
        }
    }

    /// A flat string dictionary, the form a checkpoint stores (as HDF5 attributes or JSON).
    public var dictionary: [String: String] {
        switch self {
        case let .synthetic(count, seed, noise):
            var d = ["kind": "synthetic", "count": String(count), "seed": String(seed)]
            if noise != 0 { d["noise"] = String(noise) }
            return d
        case .hdf5(let path): return ["kind": "hdf5", "path": path]
        case let .npy(xPath, yPath): return ["kind": "npy", "x": xPath, "y": yPath]
        case .inMemory(let name): return ["kind": "memory", "name": name]
        }
    }

    public init(dictionary d: [String: String]) throws {
        func field(_ key: String) throws -> String {
            guard let value = d[key] else { throw Self.unreadable(d, "no '\(key)'") }
            return value
        }
        switch d["kind"] {
        case "synthetic":
            guard let count = Int(try field("count")), count >= 0 else { throw Self.unreadable(d, "bad count") }
            guard let seed = UInt64(try field("seed")) else { throw Self.unreadable(d, "bad seed") }
            var noise: Float = 0
            if let text = d["noise"] {
                guard let value = Float(text), value.isFinite, value >= 0 else { throw Self.unreadable(d, "bad noise") }
                noise = value
            }
            self = .synthetic(count: count, seed: seed, noise: noise)
        case "hdf5": self = .hdf5(path: try field("path"))
        case "npy": self = .npy(xPath: try field("x"), yPath: try field("y"))
        case "memory": self = .inMemory(name: try field("name"))
        default: throw Self.unreadable(d, "unknown kind")
        }
    }

    /// One line of JSON with sorted keys, so equal descriptions give equal strings.
    public var json: String {
        let data = try! JSONSerialization.data(withJSONObject: dictionary, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    public init(json: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
              let d = object as? [String: String] else {
            throw RunSetupError("cannot read the recorded data source \(json)")
        }
        try self.init(dictionary: d)
    }

    private static func unreadable(_ d: [String: String], _ why: String) -> RunSetupError {
        let text = d.keys.sorted().map { "\($0)=\(d[$0]!)" }.joined(separator: ", ")
        return RunSetupError("cannot read the recorded data source [\(text)]: \(why)")
    }
}

/// The two halves of a data set, for naming the file a problem is in.
public enum DataPart: String, Sendable {
    case x, y
}

extension DataSourceDescription {
    /// The same source with relative paths made absolute against the current directory, for
    /// recording in a checkpoint that may be resumed from elsewhere.
    public var withAbsolutePaths: DataSourceDescription {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        switch self {
        case .hdf5(let path): return .hdf5(path: absolute(path))
        case let .npy(xPath, yPath): return .npy(xPath: absolute(xPath), yPath: absolute(yPath))
        default: return self
        }
    }
}
