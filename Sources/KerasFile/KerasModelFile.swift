import HDF5

/// One stored array with the name Keras gave it (`dense/kernel:0`, `Adam/m/dense/bias:0`, ...).
public struct NamedArray: Equatable, Sendable {
    public var name: String
    public var values: NumericArray

    public init(name: String, values: NumericArray) {
        self.name = name
        self.values = values
    }
}

/// The weights of one layer group in `model_weights`, in the order of its `weight_names`.
public struct LayerWeights: Equatable, Sendable {
    public var layerName: String
    public var weights: [NamedArray]

    public init(layerName: String, weights: [NamedArray]) {
        self.layerName = layerName
        self.weights = weights
    }
}

/// A Keras `.h5` file's content as stored, before any interpretation: the JSON attributes as
/// text, the weight groups in `layer_names` order, the optimizer's arrays in `weight_names`
/// order, and Relapse's own state. Reads every producer's layout; writes tf.keras 2.x's.
public struct KerasModelFile: Sendable {
    public var kerasVersion: String?
    public var backend: String?
    /// Root `model_config`; nil in a `save_weights` file.
    public var modelConfigJSON: String?
    public var trainingConfigJSON: String?
    public var layerWeights: [LayerWeights]
    /// `optimizer_weights` in stored order; nil when the file has none.
    public var optimizerWeights: [NamedArray]?
    /// Relapse's training state, in a group Keras never reads (see `relapseGroup`).
    public var relapseState: String?

    /// Keras reads only `model_config`, `training_config`, `model_weights` and
    /// `optimizer_weights`; this group is ignored by every Keras loader.
    public static let relapseGroup = "relapse"

    public init(kerasVersion: String?, backend: String?, modelConfigJSON: String?,
                trainingConfigJSON: String?, layerWeights: [LayerWeights],
                optimizerWeights: [NamedArray]?, relapseState: String? = nil) {
        self.kerasVersion = kerasVersion
        self.backend = backend
        self.modelConfigJSON = modelConfigJSON
        self.trainingConfigJSON = trainingConfigJSON
        self.layerWeights = layerWeights
        self.optimizerWeights = optimizerWeights
        self.relapseState = relapseState
    }

    public var isWeightsOnly: Bool { modelConfigJSON == nil }
}

// MARK: - Reading

extension KerasModelFile {
    /// Reads any Keras h5 file: a full model (`model.save`) or weights (`save_weights`).
    public static func read(_ path: String) throws -> KerasModelFile {
        try InputPath.validate(path)
        do {
            let file = try File.open(path)
            let root = file.root
            let modelConfig = try root.stringAttribute("model_config")
            let weightsGroup: Group
            if modelConfig != nil {
                guard root.hasGroup("model_weights") else {
                    throw KerasFileError(path, "has a model_config but no model_weights group")
                }
                weightsGroup = try root.group("model_weights")
            } else {
                guard try SplitAttributes.readStrings("layer_names", of: root) != nil else {
                    throw KerasFileError(path, "is an HDF5 file but not a Keras model or weights file (no model_config, no layer_names)")
                }
                weightsGroup = root
            }
            let kerasVersion = try root.stringAttribute("keras_version") ?? weightsGroup.stringAttribute("keras_version")
            let backend = try root.stringAttribute("backend") ?? weightsGroup.stringAttribute("backend")
            let layers = try readLayerWeights(weightsGroup, path: path)
            var optimizer: [NamedArray]? = nil
            if root.hasGroup("optimizer_weights") {
                optimizer = try readNamedArrays(try root.group("optimizer_weights"), path: path)
            }
            var relapseState: String? = nil
            if root.hasGroup(relapseGroup) {
                relapseState = try root.group(relapseGroup).stringAttribute("state")
            }
            return KerasModelFile(
                kerasVersion: kerasVersion, backend: backend, modelConfigJSON: modelConfig,
                trainingConfigJSON: try root.stringAttribute("training_config"),
                layerWeights: layers, optimizerWeights: optimizer, relapseState: relapseState)
        } catch let error as KerasFileError {
            throw error
        } catch {
            throw KerasFileError(path, "\(error)")
        }
    }

    private static func readLayerWeights(_ group: Group, path: String) throws -> [LayerWeights] {
        guard let layerNames = try SplitAttributes.readStrings("layer_names", of: group) else {
            throw KerasFileError(path, "model_weights has no layer_names attribute")
        }
        var seen = Set<String>()
        return try layerNames.map { name in
            // Each layer's weights once: a name listed twice would load (and later write) one
            // layer's weights as two layers'.
            guard seen.insert(name).inserted else {
                throw KerasFileError(path, "layer '\(name)' is listed twice in model_weights' layer_names")
            }
            guard group.hasGroup(name) else {
                throw KerasFileError(path, "layer '\(name)' is listed in layer_names but has no weight group")
            }
            return LayerWeights(layerName: name, weights: try readNamedArrays(try group.group(name), path: path))
        }
    }

    /// The datasets a group lists in `weight_names`, in that order.
    private static func readNamedArrays(_ group: Group, path: String) throws -> [NamedArray] {
        let names = try SplitAttributes.readStrings("weight_names", of: group) ?? []
        var seen = Set<String>()
        return try names.map { name in
            guard seen.insert(name).inserted else {
                throw KerasFileError(path, "weight '\(name)' is listed twice in the weight_names of \(group.path)")
            }
            guard group.hasDataset(name) else {
                throw KerasFileError(path, "weight '\(name)' is listed in \(group.path) but missing")
            }
            return NamedArray(name: name, values: try group.dataset(name).read())
        }
    }
}

// MARK: - Writing

extension KerasModelFile {
    /// Writes the tf.keras 2.x layout (as tf-keras 2.21's `model.save("x.h5")` does) to `path`
    /// atomically: a temporary file in the same folder, renamed into place when complete.
    public func write(to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            let file = try File.create(temporary)
            try writeContent(to: file.root)
            try file.flush()
        }
    }

    private func writeContent(to root: Group) throws {
        let version = kerasVersion ?? "2.21.0"
        let backendName = backend ?? "tensorflow"
        // h5py writes Python `str` as UTF-8 and `bytes` as ASCII; tf-keras passes the version
        // strings as str and the JSON (.encode("utf8")) as bytes.
        let weightsGroup: Group
        if let modelConfigJSON {
            try root.setAttribute("backend", strings: [backendName], charset: .utf8, isScalar: true)
            try root.setAttribute("keras_version", strings: [version], charset: .utf8, isScalar: true)
            try root.setAttribute("model_config", strings: [modelConfigJSON], isScalar: true)
            if let trainingConfigJSON {
                try root.setAttribute("training_config", strings: [trainingConfigJSON], isScalar: true)
            }
            weightsGroup = try root.createGroup("model_weights")
        } else {
            weightsGroup = root
        }
        try weightsGroup.setAttribute("backend", strings: [backendName], isScalar: true)
        try weightsGroup.setAttribute("keras_version", strings: [version], isScalar: true)
        try SplitAttributes.writeStrings("layer_names", layerWeights.map(\.layerName), to: weightsGroup)
        for layer in layerWeights {
            try writeNamedArrays(layer.weights, to: try weightsGroup.createGroup(layer.layerName))
        }
        if modelConfigJSON != nil {
            // tf-keras 2.x writes this empty group for weights tracked outside any layer.
            try writeNamedArrays([], to: try weightsGroup.createGroup("top_level_model_weights"))
        }
        if let optimizerWeights, modelConfigJSON != nil {
            try writeNamedArrays(optimizerWeights, to: try root.createGroup("optimizer_weights"))
        }
        if let relapseState {
            let group = try root.createGroup(Self.relapseGroup)
            try group.setAttribute("state", strings: [relapseState], charset: .utf8, isScalar: true)
        }
    }

    private func writeNamedArrays(_ arrays: [NamedArray], to group: Group) throws {
        try SplitAttributes.writeStrings("weight_names", arrays.map(\.name), to: group)
        for array in arrays {
            try group.createDataset(array.name, values: array.values)
        }
    }
}
