import Budget

/// The weights of a network by (layer, weight name): a Keras layer called at several places
/// (a shared layer) is one object per call site, and every one of them gets the same
/// `Parameter`s from here, so they read one value and add to one gradient.
final class ParameterStore {
    private var byKey: [String: Parameter] = [:]
    /// Bytes of every weight so far, value and gradient: with the optimizer's slots (up to
    /// three more copies) this is what a model holds, checked against `MemoryBudget`.
    private(set) var totalBytes = 0

    func parameter(layer: String, name: String, shape: [Int], isState: Bool = false) throws -> Parameter {
        let key = layer + "\u{0}" + name
        if let existing = byKey[key] {
            guard existing.shape == shape else {
                throw NetworkError(layer: layer, "is called on inputs that need a '\(name)' of shape \(describeShape(shape)) and \(describeShape(existing.shape))")
            }
            return existing
        }
        // Every weight is created here: its size (a Dense of 2^40 units, 2^62 filters) is checked
        // for overflow and against the memory budget before anything is allocated. A weight
        // costs its value, its gradient and up to three optimizer slots: five copies.
        let bytes = MemoryBudget.byteCount(shape).flatMap { MemoryBudget.byteCount([$0, 5], elementSize: 1) }
        let total = MemoryBudget.sum([totalBytes, bytes])
        do {
            try MemoryBudget.check("its weight '\(name)' of shape \(describeShape(shape)) (with its gradient and optimizer slots)", bytes: bytes)
            try MemoryBudget.check("the model's weights so far (with their gradients and optimizer slots)", bytes: total)
        } catch let error as ResourceError {
            throw NetworkError(layer: layer, error.message)
        }
        totalBytes = total!
        let created = Parameter(layer: layer, name: name, shape: shape, isState: isState)
        byKey[key] = created
        return created
    }
}
