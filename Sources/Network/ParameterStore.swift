/// The weights of a network by (layer, weight name): a Keras layer called at several places
/// (a shared layer) is one object per call site, and every one of them gets the same
/// `Parameter`s from here, so they read one value and add to one gradient.
final class ParameterStore {
    private var byKey: [String: Parameter] = [:]

    func parameter(layer: String, name: String, shape: [Int], isState: Bool = false) throws -> Parameter {
        let key = layer + "\u{0}" + name
        if let existing = byKey[key] {
            guard existing.shape == shape else {
                throw NetworkError(layer: layer, "is called on inputs that need a '\(name)' of shape \(describeShape(shape)) and \(describeShape(existing.shape))")
            }
            return existing
        }
        let created = Parameter(layer: layer, name: name, shape: shape, isState: isState)
        byKey[key] = created
        return created
    }
}
