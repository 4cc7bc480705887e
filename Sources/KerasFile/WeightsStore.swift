import Foundation
import HDF5

/// The HDF5 layout of Keras 3's saving library (`keras/src/saving/saving_lib.py`, `H5IOStore`),
/// inside a `.keras` archive as `model.weights.h5` and on its own as `x.weights.h5` (Keras 3,
/// and tf-keras from 2.13): one group per saveable object at its attribute path, holding a
/// `vars` group whose datasets are named by position, "0", "1", ... The model's layers are at
/// `layers/<snake_case(class name)>` with `_1`, `_2` ... for repeats, in `model.layers` order
/// (`_save_container_state` addresses layers by class, never by their names); a model used as
/// a layer is walked in turn (`_save_state` recurses into its `layers`), so its layers sit at
/// `layers/<its key>/layers/<key>` with their own counters; the optimizer at `optimizer`, its
/// variables in `optimizer.variables` order. tf-keras 2.13 wrote `_layer_checkpoint_dependencies`
/// for `layers` (Keras reads both; so does Relapse, at every level).
public struct WeightsStore: Sendable {
    /// Layer groups by their path below `layers/` (`conv2d`, `dense_1`, a nested model's layer
    /// `sequential/layers/dense`), vars in position order; a nested model's own entry too.
    public var layers: [(key: String, vars: [NumericArray])]
    /// `optimizer/vars` in position order; nil when the file has none.
    public var optimizerVars: [NumericArray]?
    /// `optimizer/vars`'s `name` attribute (Keras 3 writes the optimizer's name; tf-keras nothing).
    public var optimizerName: String?
    /// Relapse's run state (a `relapse` group, which Keras's loaders never visit).
    public var relapseState: String?
    /// The `name` attribute Keras 3 writes on each layer's `vars` (the layer's own name), by key.
    public var layerNames: [String: String] = [:]

    public init(layers: [(key: String, vars: [NumericArray])], optimizerVars: [NumericArray]?,
                optimizerName: String? = nil, relapseState: String? = nil) {
        self.layers = layers
        self.optimizerVars = optimizerVars
        self.optimizerName = optimizerName
        self.relapseState = relapseState
    }

    /// True if an HDF5 root looks like this layout and not like the legacy one.
    static func isNewLayout(_ root: Group) -> Bool {
        guard !root.hasAttribute("model_config"), !root.hasAttribute("layer_names"), !root.hasAttribute("layer_names0") else {
            return false
        }
        return root.hasGroup("layers") || root.hasGroup("_layer_checkpoint_dependencies")
            || root.hasGroup("optimizer") || root.hasGroup("vars")
    }

    /// Keras's `naming.to_snake_case`: drop non-word characters, `(.)([A-Z][a-z]+)` -> `\1_\2`,
    /// `([a-z])([A-Z])` -> `\1_\2`, lower case.
    public static func snakeCase(_ name: String) -> String {
        var text = name.filter { $0.isLetter || $0.isNumber || $0 == "_" }
        text = text.replacingOccurrences(of: "(.)([A-Z][a-z]+)", with: "$1_$2", options: .regularExpression)
        text = text.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression)
        return text.lowercased()
    }

    /// The store keys of layers with these class names, in `model.layers` order
    /// (saving_lib.py `_get_unique_name`).
    public static func layerKeys(classNames: [String]) -> [String] {
        var used: [String: Int] = [:]
        return classNames.map { className in
            let name = snakeCase(className)
            if let count = used[name] {
                used[name] = count + 1
                return "\(name)_\(count + 1)"
            }
            used[name] = 0
            return name
        }
    }

    /// Every entry of `model.layers` with its store key, in the order Keras's saving library
    /// visits them: a nested model, then its own layers under `<its key>/layers/`, keyed by
    /// their own counters (`_save_container_state` starts `used_names` afresh per container).
    public static func keyedLayers(_ layers: [SavedLayer], prefix: String = "") -> [(key: String, entry: SavedLayer)] {
        let keys = layerKeys(classNames: layers.map(\.savedClassName))
        return zip(keys, layers).flatMap { key, entry -> [(key: String, entry: SavedLayer)] in
            guard case .model(_, _, let inner) = entry else { return [(prefix + key, entry)] }
            return [(prefix + key, entry)] + keyedLayers(inner, prefix: prefix + key + "/layers/")
        }
    }

    /// Models nest no deeper than this in a file Relapse reads (as in `ModelConfigParser`).
    static let maxDepth = 32

    // MARK: Reading

    static func read(_ root: Group, path: String) throws -> WeightsStore {
        var layers: [(String, [NumericArray])] = []
        if let container = layersContainer(root) {
            try readLayers(try root.group(container), groupPath: container, prefix: "", depth: 0, path: path, into: &layers)
        }
        if root.hasGroup("vars") {
            let top = try readVars(root, path: path)
            if !top.isEmpty { throw KerasFileError(path, "has \(top.count) model-level variables in vars/ (only layer weights are supported)") }
        }
        var optimizerVars: [NumericArray]? = nil
        var optimizerName: String? = nil
        if root.hasGroup("optimizer") {
            let group = try root.group("optimizer")
            optimizerVars = try readVars(group, path: path)
            if group.hasGroup("vars") { optimizerName = try group.group("vars").stringAttribute("name") }
        }
        var relapseState: String? = nil
        if root.hasGroup(KerasModelFile.relapseGroup) {
            relapseState = try root.group(KerasModelFile.relapseGroup).stringAttribute("state")
        }
        return WeightsStore(layers: layers, optimizerVars: optimizerVars, optimizerName: optimizerName, relapseState: relapseState)
    }

    /// The group holding an object's layers: `layers`, or tf-keras 2.13's `_layer_checkpoint_dependencies`.
    private static func layersContainer(_ group: Group) -> String? {
        ["layers", "_layer_checkpoint_dependencies"].first(where: group.hasGroup)
    }

    /// Each layer group's vars under `prefix + its key`; a layer group that is a model (it has
    /// a layers container) is walked in turn. Anything else holding data is no part of Keras's
    /// layout for the layers Relapse computes.
    private static func readLayers(_ group: Group, groupPath: String, prefix: String, depth: Int, path: String,
                                   into layers: inout [(String, [NumericArray])]) throws {
        guard depth < maxDepth else { throw KerasFileError(path, "\(groupPath) nests models more than \(maxDepth) deep") }
        for key in try group.childNames() where group.hasGroup(key) {
            let layer = try group.group(key)
            layers.append((prefix + key, try readVars(layer, path: path)))
            let container = layersContainer(layer)
            for child in try layer.childNames() where child != "vars" && child != container && layer.hasGroup(child) {
                guard try !Self.holdsData(try layer.group(child)) else {
                    throw KerasFileError(path, "layer group '\(groupPath)/\(key)' has weights in '\(child)', which is neither its vars nor a nested model's layers")
                }
            }
            if let container {
                try readLayers(try layer.group(container), groupPath: "\(groupPath)/\(key)/\(container)",
                               prefix: prefix + key + "/layers/", depth: depth + 1, path: path, into: &layers)
            }
        }
    }

    /// Whether a group holds a dataset at any depth. Past `maxDepth` levels (a hostile file,
    /// or hard links that loop) it counts as holding data, which the caller refuses.
    private static func holdsData(_ group: Group, depth: Int = 0) throws -> Bool {
        guard depth < maxDepth else { return true }
        for name in try group.childNames() {
            if group.hasDataset(name) { return true }
            if group.hasGroup(name), try holdsData(try group.group(name), depth: depth + 1) { return true }
        }
        return false
    }

    /// `<group>/vars/0`, `1`, ...: exactly the positions 0..<n, nothing else.
    private static func readVars(_ group: Group, path: String) throws -> [NumericArray] {
        guard group.hasGroup("vars") else { return [] }
        let vars = try group.group("vars")
        let names = try vars.childNames()
        var arrays = [NumericArray?](repeating: nil, count: names.count)
        for name in names {
            guard let position = Int(name), String(position) == name, position >= 0, position < names.count,
                  vars.hasDataset(name) else {
                throw KerasFileError(path, "\(vars.path) holds '\(name)'; Keras's layout has only datasets 0 to \(names.count - 1)")
            }
            // A corrupt group can list one name twice (a fuzz find: the nil left at the
            // missing position trapped below).
            guard arrays[position] == nil else {
                throw KerasFileError(path, "\(vars.path) lists '\(name)' twice")
            }
            arrays[position] = try vars.dataset(name).read()
        }
        return try arrays.enumerated().map { position, array in
            guard let array else { throw KerasFileError(path, "\(vars.path) has no dataset \(position)") }
            return array
        }
    }

    // MARK: Writing

    /// Writes the layout to a new HDF5 file (not atomically; callers write to a temporary).
    func write(toNewFile path: String) throws {
        let file = try File.create(path)
        let root = file.root
        let layersGroup = try root.createGroup("layers")
        for (key, vars) in layers {
            // A nested model's layer (`sequential/layers/dense`) goes below its model's group.
            var group = layersGroup
            for part in key.split(separator: "/").map(String.init) {
                group = group.hasGroup(part) ? try group.group(part) : try group.createGroup(part)
            }
            let varsGroup = try group.createGroup("vars")
            // Keras 3 labels each entry with the saveable's name; its loader never reads it.
            try varsGroup.setAttribute("name", strings: [layerNames[key] ?? key], charset: .utf8, isScalar: true)
            for (i, array) in vars.enumerated() { try varsGroup.createDataset(String(i), values: array) }
        }
        if let optimizerVars {
            let varsGroup = try root.createGroup("optimizer").createGroup("vars")
            if let optimizerName { try varsGroup.setAttribute("name", strings: [optimizerName], charset: .utf8, isScalar: true) }
            for (i, array) in optimizerVars.enumerated() { try varsGroup.createDataset(String(i), values: array) }
        }
        _ = try root.createGroup("vars")
        if let relapseState {
            let group = try root.createGroup(KerasModelFile.relapseGroup)
            try group.setAttribute("state", strings: [relapseState], charset: .utf8, isScalar: true)
        }
        try file.flush()
    }
}
