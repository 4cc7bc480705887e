import HDF5

/// An optimizer's saved state independent of the file layout: the step counter and, per
/// slot (tf.keras 2.11+'s names: Adam/AdamW `m`, `v`, `vhat`; SGD `m`; RMSprop `velocity`,
/// `momentum`, `average_gradient`; Adagrad `accumulator`; Adadelta `accumulated_grad`,
/// `accumulated_delta_var`; Adamax `m`, `u`; Nadam `m`, `v`), one array per trainable variable
/// in weight order.
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
        case "adam", "adamw": known = [["m", "v"], ["vhat"]]
        case "nadam": known = [["m", "v"]]
        case "adamax": known = [["m", "u"]]
        case "sgd": known = [["m"]]
        case "rmsprop": known = [["velocity"], ["momentum"], ["average_gradient"]]
        case "adagrad": known = [["accumulator"]]
        case "adadelta": known = [["accumulated_grad", "accumulated_delta_var"]]
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

    /// Keras 3's slot suffixes and the tf.keras names they stand for, by class; longer suffixes
    /// first (`_velocity_hat` before `_velocity`).
    public static func keras3Suffixes(_ optimizerClass: String) -> [(String, String)] {
        switch optimizerClass.lowercased() {
        case "adam", "adamw": return [("_velocity_hat", "vhat"), ("_momentum", "m"), ("_velocity", "v")]
        case "nadam": return [("_momentum", "m"), ("_velocity", "v")]
        case "adamax": return [("_momentum", "m"), ("_norm", "u")]
        case "sgd": return [("_momentum", "m")]
        case "rmsprop": return [("_average_gradient", "average_gradient"), ("_momentum", "momentum"), ("_velocity", "velocity")]
        case "adagrad": return [("_accumulator", "accumulator")]
        case "adadelta": return [("_accumulated_delta_var", "accumulated_delta_var"), ("_accumulated_grad", "accumulated_grad")]
        default: return []
        }
    }

    /// Keras 3: `<opt>/iteration`, `<opt>/learning_rate` (absent under a schedule), then
    /// `<opt>/<path>_<slot>` per variable, slots interleaved per variable within a build group.
    /// Nadam adds `<opt>/variable` (its u_product), which Relapse recomputes from the iterations.
    private static func readKeras3(_ arrays: [NamedArray], optimizerClass: String,
                                   variables: [(name: String, shape: [Int])]) throws -> OptimizerState {
        let suffixes = keras3Suffixes(optimizerClass)
        let isNadam = optimizerClass.lowercased() == "nadam"
        var slots: [String: [NumericArray?]] = [:]
        var counters: [String: Int] = [:]
        for array in arrays.dropFirst() where !array.name.hasSuffix("/learning_rate") {
            let last = array.name.split(separator: "/").last.map(String.init) ?? array.name
            if isNadam, last == "variable" || last.hasPrefix("variable_"), array.values.shape.isEmpty { continue }
            guard let (_, canonical) = suffixes.first(where: { array.name.hasSuffix($0.0) }) else {
                throw ModelConfigParser.Failure("optimizer weight '\(array.name)' is not a slot of \(optimizerClass) Relapse knows")
            }
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
    /// `self.weights` (keras/optimizers.py 2.2.4): Adam `[iterations] + ms + vs + vhats` (vhats
    /// of shape (1,) unless amsgrad), SGD `[iterations] + moments`, Adamax `[iterations] + ms +
    /// us`, Nadam `[iterations] + ms + vs` (its m_schedule is not saved), RMSprop and Adagrad
    /// `accumulators`, Adadelta `accumulators + delta_accumulators` (the last three without
    /// iterations).
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
        case "adagrad": slotNames = ["accumulator"]
        case "adadelta": slotNames = ["accumulated_grad", "accumulated_delta_var"]
        case "adamax": slotNames = ["m", "u"]
        case "nadam": slotNames = ["m", "v"]
        default:
            throw ModelConfigParser.Failure("Keras 2 optimizer state of \(optimizerClass) is not supported (Adam, SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam)")
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
