import KerasFile

/// Each file trains with the math of the Keras that wrote it.
extension LossSemantics {
    public init(producer: Producer, backend: String?) {
        switch producer {
        case .keras2: self = .keras22
        case .keras3: self = (backend ?? "tensorflow") == "tensorflow" ? .keras3TensorFlow : .keras3
        case .tfKeras, .unknown: self = .tfKeras
        }
    }
}

extension OptimizerFlavor {
    public init(producer: Producer) {
        switch producer {
        case .keras2: self = .keras22
        case .keras3: self = .keras3
        case .tfKeras, .unknown: self = .tfKeras
        }
    }
}
