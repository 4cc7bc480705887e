import HDF5
import KerasFile
import Network
import Training

/// What `relapse inspect` shows about a Keras file: producer, layers, weights, optimizer and
/// training configuration, as plain values that render to text or JSON.
public struct ModelReport: Sendable {
    public struct Layer: Sendable {
        public var name: String
        public var className: String
        public var outputShape: [Int]?
        public var parameterCount: Int
    }

    public struct Weight: Sendable {
        public var layer: String
        public var name: String
        public var shape: [Int]
        public var dtype: String
        public var statistics: TensorStatistics
    }

    public struct Optimizer: Sendable {
        public var className: String
        public var iterations: Int64
        /// Slot name and the number of arrays it holds.
        public var slots: [(name: String, count: Int)]
    }

    /// A new-layout `.weights.h5` without its model's config: the optimizer's variables are
    /// stored by position only (`optimizer/vars/0`, `1`, ...), so their slots cannot be named,
    /// but both Keras put the iteration count first (an int64 scalar; Keras 3's
    /// `base_optimizer.py` and tf-keras's `optimizer.py` create it before anything else).
    public struct OptimizerVariables: Sendable {
        /// The group's `name` attribute (Keras 3 writes the optimizer's name; tf-keras nothing).
        public var name: String?
        /// `vars/0` when it is an integer scalar; nil otherwise.
        public var iterations: Int64?
        public var shapes: [[Int]]
        public var dtypes: [String]
    }

    public var path: String
    public var producer: Producer
    public var backend: String?
    public var modelClass: String?
    public var modelName: String?
    public var layers: [Layer]
    public var weights: [Weight]
    public var optimizer: Optimizer?
    /// The optimizer's variables of a weights file that cannot say which optimizer they belong to.
    public var optimizerVariables: OptimizerVariables?
    public var trainingConfig: TrainingConfig?
    /// Extra lines a reader should see (e.g. loss semantics that differ between Keras versions).
    public var notes: [String]
    /// Every setting that stops training or prediction, all at once.
    public var refusals: [ConfigRefusal]

    public var parameterCount: Int { weights.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    public init(path: String, model: KerasModel, notes: [String] = [], refusals: [ConfigRefusal] = []) throws {
        self.path = path
        producer = model.producer
        backend = model.backend
        modelClass = model.definition?.className
        modelName = model.definition?.name
        self.refusals = refusals
        if let definition = model.definition, !definition.refusals.isEmpty {
            // A refused layer cannot be built: the config's own list, without shapes.
            layers = definition.layers.map { Layer(name: $0.name, className: $0.className, outputShape: nil,
                                                   parameterCount: model.weights(of: $0.name).reduce(0) { $0 + $1.count }) }
        } else if let definition = model.definition {
            let table = try Network.layerTable(for: definition)
            layers = table.map { Layer(name: $0.name, className: $0.className, outputShape: $0.outputShape, parameterCount: $0.parameterCount) }
        } else {
            layers = model.layerWeights.map { group in
                Layer(name: group.layerName, className: "?", outputShape: nil,
                      parameterCount: group.weights.reduce(0) { $0 + $1.values.count })
            }
        }
        weights = model.layerWeights.flatMap { group in
            group.weights.map { Weight(layer: group.layerName, name: $0.name, shape: $0.values.shape,
                                       dtype: $0.values.elementType.rawValue, statistics: TensorStatistics($0.values)) }
        }
        optimizer = model.optimizerState.map { state in
            Optimizer(className: state.optimizerClass, iterations: state.iterations,
                      slots: OptimizerState.slotGroups(for: state.optimizerClass, slots: Set(state.slots.keys))
                        .joined().map { ($0, state.slots[$0]?.count ?? 0) })
        }
        if optimizer == nil, let vars = model.positionalOptimizerVars {
            let first = vars.first
            let iterations = first.flatMap { $0.count == 1 && !$0.elementType.isFloatingPoint ? $0.int64s().first : nil }
            optimizerVariables = OptimizerVariables(name: model.positionalOptimizerName, iterations: iterations,
                                                    shapes: vars.map(\.shape), dtypes: vars.map(\.elementType.rawValue))
        }
        trainingConfig = model.trainingConfig
        self.notes = notes
    }
}

extension ModelReport {
    /// Every setting of a file that stops training or prediction: the model's and its layers',
    /// then the training config's loss and other keys, then its optimizer, each in the math of the Keras that wrote the file.
    public static func refusals(of model: KerasModel) -> [ConfigRefusal] {
        layerRefusals(of: model) + trainingRefusals(of: model)
    }

    /// The training config's refusals: its loss and other keys, then its optimizer.
    public static func trainingRefusals(of model: KerasModel) -> [ConfigRefusal] {
        guard let config = model.trainingConfig else { return [] }
        return (model.definition.map { Loss.parse(trainingConfig: config.json, model: $0, generation: model.producer.generation) }
            ?? Loss.parse(trainingConfig: config.json)).refusals
            + Training.Optimizer.refusals(trainingConfig: config, flavor: OptimizerFlavor(producer: model.producer))
    }

    /// The model's and its layers' refusals: the config's own, else what the built graph's
    /// output shapes reveal (`Network.shapeRefusals`; a graph that cannot be built lists none
    /// here, and the layer table names its problem).
    public static func layerRefusals(of model: KerasModel) -> [ConfigRefusal] {
        let refusals = model.definition?.refusals ?? []
        guard refusals.isEmpty else { return refusals }
        return (try? Network.shapeRefusals(of: model)) ?? []
    }
}
