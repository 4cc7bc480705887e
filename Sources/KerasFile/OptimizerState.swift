import HDF5

/// An optimizer's saved state independent of the file layout: the step counter and, per
/// slot (tf.keras 2.11+'s names: Adam `m`, `v`, `vhat`; SGD `m`; RMSprop `velocity`,
/// `momentum`, `average_gradient`), one array per trainable variable in weight order.
public struct OptimizerState: Equatable, Sendable {
    public var optimizerClass: String
    public var iterations: Int64
    public var slots: [String: [NumericArray]]

    public init(optimizerClass: String, iterations: Int64, slots: [String: [NumericArray]]) {
        self.optimizerClass = optimizerClass
        self.iterations = iterations
        self.slots = slots
    }

    /// tf.keras 2.11+'s `build` order: each inner list's slots are created together per
    /// variable (Adam's m and v interleave), the outer lists one after another.
    public static func slotGroups(for optimizerClass: String, slots: Set<String>) -> [[String]] {
        let known: [[String]]
        switch optimizerClass.lowercased() {
        case "adam", "adamw", "adamax", "nadam": known = [["m", "v"], ["vhat"]]
        case "sgd": known = [["m"]]
        case "rmsprop": known = [["velocity"], ["momentum"], ["average_gradient"]]
        default: known = []
        }
        let listed = Set(known.joined())
        let groups = known.map { $0.filter(slots.contains) }.filter { !$0.isEmpty }
        return groups + slots.subtracting(listed).sorted().map { [$0] }
    }
}

/// Reads `optimizer_weights` in each producer's layout and writes tf.keras 2.11+'s.
public enum OptimizerLayout {
    /// - Parameters:
    ///   - arrays: `optimizer_weights` in stored order.
    ///   - optimizerClass: from `training_config` (needed to read Keras 2.2's unnamed layout).
    ///   - variables: the model's trainable weights (layer name, weight name, shape) in order.
    public static func read(_ arrays: [NamedArray], optimizerClass: String,
                            variables: [(name: String, shape: [Int])]) throws -> OptimizerState {
        guard let first = arrays.first else {
            return OptimizerState(optimizerClass: optimizerClass, iterations: 0, slots: [:])
        }
        if first.name.hasPrefix("iteration") {
            return try readTFKeras(arrays, optimizerClass: optimizerClass, variables: variables)
        }
        if first.name.hasSuffix("/iteration") {
            return try readKeras3(arrays, optimizerClass: optimizerClass, variables: variables)
        }
        return try readKeras2(arrays, optimizerClass: optimizerClass, variables: variables)
    }

    /// tf.keras 2.11+: `iteration:0`, then `<Class>/<slot>/<layer>/<weight>:0`.
    private static func readTFKeras(_ arrays: [NamedArray], optimizerClass: String,
                                    variables: [(name: String, shape: [Int])]) throws -> OptimizerState {
        var slots: [String: [NumericArray?]] = [:]
        let index = Dictionary(variables.enumerated().map { (stripSuffix($1.name), $0) }, uniquingKeysWith: { a, _ in a })
        for array in arrays.dropFirst() {
            let parts = array.name.split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count == 3, let variable = index[stripSuffix(parts[2])] else {
                throw ModelConfigParser.Failure("optimizer weight '\(array.name)' does not name a weight of the model")
            }
            slots[parts[1], default: Array(repeating: nil, count: variables.count)][variable] = array.values
        }
        return try assemble(iterations: arrays[0].values, slots: slots, optimizerClass: optimizerClass, variables: variables)
    }

    /// Keras 3: `<opt>/iteration`, `<opt>/learning_rate`, then `<opt>/<path>_<slot>` per variable,
    /// slots interleaved per variable within a build group.
    private static func readKeras3(_ arrays: [NamedArray], optimizerClass: String,
                                   variables: [(name: String, shape: [Int])]) throws -> OptimizerState {
        let suffixes: [(String, String)] = [("_velocity_hat", "vhat"), ("_average_gradient", "average_gradient"),
                                            ("_momentum", "momentum"), ("_velocity", "velocity")]
        let isAdamFamily = ["adam", "adamw", "adamax", "nadam"].contains(optimizerClass.lowercased())
        let isSGD = optimizerClass.lowercased() == "sgd"
        var slots: [String: [NumericArray?]] = [:]
        var counters: [String: Int] = [:]
        for array in arrays.dropFirst() where !array.name.hasSuffix("/learning_rate") {
            guard let (suffix, slotName) = suffixes.first(where: { array.name.hasSuffix($0.0) }) else {
                throw ModelConfigParser.Failure("optimizer weight '\(array.name)' is not a slot Relapse knows")
            }
            _ = suffix
            // Keras 3 calls Adam's m "momentum" and v "velocity"; SGD's momentum is tf.keras's m.
            var canonical = slotName
            if isAdamFamily { canonical = ["momentum": "m", "velocity": "v"][slotName] ?? slotName }
            if isSGD, slotName == "momentum" { canonical = "m" }
            let position = counters[canonical, default: 0]
            counters[canonical] = position + 1
            guard position < variables.count else {
                throw ModelConfigParser.Failure("optimizer state has more '\(canonical)' slots than the model has weights")
            }
            slots[canonical, default: Array(repeating: nil, count: variables.count)][position] = array.values
        }
        return try assemble(iterations: arrays[0].values, slots: slots, optimizerClass: optimizerClass, variables: variables)
    }

    /// Keras 2.0-2.3: unnamed `training/<Class>/Variable_N:0` in the order of the optimizer's
    /// `self.weights`: Adam `[iterations] + ms + vs + vhats` (vhats of shape (1,) unless
    /// amsgrad), SGD `[iterations] + moments`, RMSprop `accumulators` (no iterations).
    private static func readKeras2(_ arrays: [NamedArray], optimizerClass: String,
                                   variables: [(name: String, shape: [Int])]) throws -> OptimizerState {
        let n = variables.count
        var rest = arrays[...]
        var iterations = NumericArray(shape: [], int64s: [0])
        if let first = rest.first, first.name.contains("iterations") {
            iterations = first.values
            rest = rest.dropFirst()
        }
        let slotNames: [String]
        switch optimizerClass.lowercased() {
        case "adam": slotNames = ["m", "v", "vhat"]
        case "sgd": slotNames = ["m"]
        case "rmsprop": slotNames = ["velocity"]
        default:
            throw ModelConfigParser.Failure("Keras 2 optimizer state of \(optimizerClass) is not supported (Adam, SGD, RMSprop)")
        }
        guard rest.count == slotNames.count * n else {
            throw ModelConfigParser.Failure("optimizer state holds \(rest.count) arrays; \(optimizerClass) over \(n) weights needs \(slotNames.count * n)")
        }
        var slots: [String: [NumericArray?]] = [:]
        for (s, slot) in slotNames.enumerated() {
            let chunk = Array(rest.dropFirst(s * n).prefix(n)).map(\.values)
            // Keras 2.2's Adam keeps 1-element placeholders for vhat unless amsgrad is on.
            if slot == "vhat", zip(chunk, variables).contains(where: { $0.shape != $1.shape }) { continue }
            slots[slot] = chunk
        }
        return try assemble(iterations: iterations, slots: slots, optimizerClass: optimizerClass, variables: variables)
    }

    private static func assemble(iterations: NumericArray, slots: [String: [NumericArray?]], optimizerClass: String,
                                 variables: [(name: String, shape: [Int])]) throws -> OptimizerState {
        var complete: [String: [NumericArray]] = [:]
        for (slot, arrays) in slots.sorted(by: { $0.key < $1.key }) {
            complete[slot] = try arrays.enumerated().map { i, array in
                guard let array else {
                    throw ModelConfigParser.Failure("optimizer state has no '\(slot)' slot for weight '\(variables[i].name)'")
                }
                guard array.shape == variables[i].shape else {
                    throw ModelConfigParser.Failure("optimizer slot '\(slot)' of '\(variables[i].name)' has shape \(array.shape), the weight has \(variables[i].shape)")
                }
                return array
            }
        }
        guard let step = iterations.int64s().first else { throw ModelConfigParser.Failure("optimizer iterations is empty") }
        return OptimizerState(optimizerClass: optimizerClass, iterations: step, slots: complete)
    }

    /// tf.keras 2.11+'s `optimizer_weights`: `iteration:0` (int64 scalar), then the slots in
    /// build order named `<Class>/<slot>/<layer>/<weight>:0`.
    public static func write(_ state: OptimizerState, variables: [String]) -> [NamedArray] {
        var arrays = [NamedArray(name: "iteration:0", values: NumericArray(shape: [], int64s: [state.iterations]))]
        for group in OptimizerState.slotGroups(for: state.optimizerClass, slots: Set(state.slots.keys)) {
            for (i, variable) in variables.enumerated() {
                for slot in group {
                    guard let values = state.slots[slot]?[i] else { continue }
                    arrays.append(NamedArray(name: "\(state.optimizerClass)/\(slot)/\(withSuffix(variable))", values: values))
                }
            }
        }
        return arrays
    }

    static func stripSuffix(_ name: String) -> String {
        name.hasSuffix(":0") ? String(name.dropLast(2)) : name
    }

    static func withSuffix(_ name: String) -> String {
        name.hasSuffix(":0") ? name : name + ":0"
    }
}
