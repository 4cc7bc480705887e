import HDF5
import KerasFile
import Kernels
import Network

/// Between the optimizer and what a Keras file holds: its `optimizer_config` JSON and its state.
extension Optimizer {
    /// The optimizer a file's `training_config` describes, in the file's Keras flavor. Throws
    /// the first refusal (a `ConfigRefusal` naming the key and its value).
    public init(trainingConfig: TrainingConfig, flavor: OptimizerFlavor) throws {
        try self.init(className: trainingConfig.optimizerClass, json: trainingConfig.optimizerConfig, flavor: flavor)
    }

    /// Every refusal of a file's optimizer config, without stopping at the first (for `inspect`).
    public static func refusals(trainingConfig: TrainingConfig, flavor: OptimizerFlavor) -> [ConfigRefusal] {
        refusals(className: trainingConfig.optimizerClass, json: trainingConfig.optimizerConfig, flavor: flavor)
    }

    /// `optimizer_config` as this flavor's Keras writes it.
    public var optimizerConfigJSON: JSONValue {
        .object([("class_name", .string(className)),
                 ("config", .object(config()))])
    }

    /// The state for a Keras file: iterations and the slots that have their variable's shape
    /// (Keras 2.2's one-element vhat placeholders are not state and no loader wants them).
    public func savedState() -> KerasFile.OptimizerState {
        var saved: [String: [NumericArray]] = [:]
        for (kind, tensors) in slots {
            guard let shapes = variableShapes, tensors.map(\.shape) == shapes else { continue }
            saved[kind] = tensors.map { NumericArray($0) }
        }
        return KerasFile.OptimizerState(optimizerClass: className, iterations: iterations, slots: saved)
    }

    /// Takes iterations and slots from a file's state. Slots the state lacks start at zero (as
    /// Keras does when, say, amsgrad is switched on); a slot of the wrong shape is an error.
    public mutating func restore(_ state: KerasFile.OptimizerState, shapes: [[Int]]) throws {
        build(shapes: shapes)
        for (kind, arrays) in state.slots {
            guard slots[kind] != nil else { continue }
            guard arrays.count == shapes.count else {
                throw OptimizerError.stateMismatch("slot '\(kind)' holds \(arrays.count) arrays for \(shapes.count) weights")
            }
            for (index, array) in arrays.enumerated() {
                guard array.shape == shapes[index] else {
                    throw OptimizerError.stateMismatch("slot '\(kind)' of weight \(index) has shape \(array.shape), the weight \(shapes[index])")
                }
                slots[kind]![index] = Tensor(array)
            }
        }
        // A count Keras could reach: beyond 2^53 its float step (lr schedules, bias
        // corrections) no longer counts, and 2^63 - 1 would overflow at the next step.
        guard state.iterations >= 0, state.iterations <= 1 << 53 else {
            throw OptimizerError.stateMismatch("its iteration count \(state.iterations) is out of range (0 to 2^53)")
        }
        iterations = state.iterations
    }
}
