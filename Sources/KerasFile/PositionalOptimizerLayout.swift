import HDF5

/// An optimizer's variables as the new saving library stores them (`optimizer/vars/0`, `1`,
/// ...): `optimizer.variables` by position, no names. Keras 3 (`base_optimizer.py`): the
/// iteration count (int64), the learning rate (float32; absent under a schedule), then what
/// `build` adds, in order; Nadam adds its `u_product` last. tf-keras 2.13+ (`optimizer.py`):
/// the iteration count, then `build`'s variables (the learning rate is no variable there).
/// `build` creates slots per variable with one kind interleaved per group (Adam's m and v)
/// and the groups one after another: `OptimizerState.slotGroups`, restricted to the slots the
/// config creates.
public enum PositionalOptimizerLayout {
    public enum Generation: Sendable {
        case tfKeras, keras3
    }

    /// The slot groups `build` creates for this config, in build order. Unknown classes are refused.
    public static func slotGroups(optimizerClass: String, config: JSONValue, generation: Generation) throws -> [[String]] {
        let momentum = config["momentum"]?.doubleValue ?? 0
        let slots: Set<String>
        switch optimizerClass.lowercased() {
        case "adam", "adamw": slots = config["amsgrad"]?.boolValue == true ? ["m", "v", "vhat"] : ["m", "v"]
        case "nadam": slots = ["m", "v"]
        case "adamax": slots = ["m", "u"]
        // keras/src/optimizers/sgd.py builds momentums only when momentum != 0; tf-keras always.
        case "sgd": slots = generation == .keras3 && momentum == 0 ? [] : ["m"]
        case "rmsprop":
            var set: Set<String> = ["velocity"]
            if momentum > 0 { set.insert("momentum") }
            if config["centered"]?.boolValue == true { set.insert("average_gradient") }
            slots = set
        case "adagrad": slots = ["accumulator"]
        case "adadelta": slots = ["accumulated_grad", "accumulated_delta_var"]
        default:
            throw ModelConfigParser.Failure("the state of optimizer \(optimizerClass) in Keras's positional layout is not supported (Adam, AdamW, Nadam, Adamax, SGD, RMSprop, Adagrad, Adadelta)")
        }
        return OptimizerState.slotGroups(for: optimizerClass, slots: slots)
    }

    /// True where Keras 3 keeps the learning rate as the optimizer's second variable.
    static func hasLearningRateVariable(_ config: JSONValue, _ generation: Generation) -> Bool {
        generation == .keras3 && (config["learning_rate"]?.doubleValue != nil || config["learning_rate"] == nil)
    }

    /// Reads the variables; also returns the stored learning rate (Keras 3), which is what
    /// Keras's `load_own_variables` leaves in the optimizer.
    public static func read(_ vars: [NumericArray], optimizerClass: String, config: JSONValue, generation: Generation,
                            variables: [(name: String, shape: [Int])]) throws -> (state: OptimizerState, learningRate: Double?) {
        let groups = try slotGroups(optimizerClass: optimizerClass, config: config, generation: generation)
        let hasLR = hasLearningRateVariable(config, generation)
        let isNadam3 = optimizerClass.lowercased() == "nadam" && generation == .keras3
        let head = hasLR ? 2 : 1
        let slotCount = groups.joined().count
        let expected = head + slotCount * variables.count + (isNadam3 ? 1 : 0)
        // An optimizer never built (compiled, not trained) saves only its iterations and rate.
        let unbuilt = vars.count == head
        guard vars.count == expected || unbuilt else {
            throw ModelConfigParser.Failure("optimizer/vars holds \(vars.count) arrays; \(optimizerClass) (\(groups.joined().joined(separator: ", "))) over \(variables.count) trainable weights needs \(expected)")
        }
        guard vars[0].shape.isEmpty || vars[0].shape == [1], !vars[0].elementType.isFloatingPoint,
              let iterations = vars[0].int64s().first else {
            throw ModelConfigParser.Failure("optimizer/vars/0 is not the iteration count (an integer scalar)")
        }
        var learningRate: Double? = nil
        if hasLR {
            guard vars[1].count == 1, vars[1].elementType.isFloatingPoint else {
                throw ModelConfigParser.Failure("optimizer/vars/1 is not the learning rate (a float scalar)")
            }
            learningRate = vars[1].doubles().first
        }
        var slots: [String: [NumericArray]] = [:]
        var position = head
        for group in unbuilt ? [] : groups {
            var perSlot = Dictionary(uniqueKeysWithValues: group.map { ($0, [NumericArray]()) })
            for variable in variables {
                for slot in group {
                    let array = vars[position]
                    guard array.shape == variable.shape else {
                        throw ModelConfigParser.Failure("optimizer/vars/\(position) (slot '\(slot)' of '\(variable.name)') has shape \(array.shape), the weight has \(variable.shape)")
                    }
                    perSlot[slot]!.append(array)
                    position += 1
                }
            }
            for (slot, arrays) in perSlot { slots[slot] = arrays }
        }
        return (OptimizerState(optimizerClass: optimizerClass, iterations: iterations, slots: slots), learningRate)
    }

    /// The variables in Keras's order. Slots the config does not create are left out (tf-keras's
    /// SGD keeps a zero `m` at momentum 0, Keras 3's has none); one it creates but the state
    /// lacks is an error.
    public static func write(_ state: OptimizerState, config: JSONValue, generation: Generation,
                             variableShapes: [[Int]]) throws -> [NumericArray] {
        let groups = try slotGroups(optimizerClass: state.optimizerClass, config: config, generation: generation)
        if state.optimizerClass.lowercased() == "nadam", generation == .keras3 {
            throw ModelConfigParser.Failure("Keras 3's Nadam state holds its u_product, which Relapse recomputes and does not write; save as .h5")
        }
        var vars = [NumericArray(shape: [], int64s: [state.iterations])]
        if hasLearningRateVariable(config, generation) {
            vars.append(NumericArray(shape: [], floats: [Float(config["learning_rate"]?.doubleValue ?? 0.001)]))
        }
        // Not built yet (no step taken, no slots): Keras saves only the variables above.
        let unbuilt = state.slots.isEmpty && state.iterations == 0
        for group in unbuilt ? [] : groups {
            for (i, shape) in variableShapes.enumerated() {
                for slot in group {
                    guard let arrays = state.slots[slot], i < arrays.count else {
                        throw ModelConfigParser.Failure("the optimizer state has no '\(slot)' slot, which \(state.optimizerClass) with this config keeps")
                    }
                    guard arrays[i].shape == shape else {
                        throw ModelConfigParser.Failure("optimizer slot '\(slot)' #\(i) has shape \(arrays[i].shape), the weight has \(shape)")
                    }
                    vars.append(arrays[i])
                }
            }
        }
        return vars
    }
}
