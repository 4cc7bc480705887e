import Foundation
import HDF5
import KerasFile
import Kernels
import Network

/// What the user asked for on the command line; nil means "not given".
public struct TrainingOptions: Sendable {
    public var data: DataSourceDescription?
    public var validationSplit: Double?
    public var validationData: DataSourceDescription?
    public var batchSize: Int?
    public var seed: UInt64?
    public var shuffle: Bool?
    public var optimizer: String?
    /// Optimizer settings by Keras config key (learning_rate, epsilon, beta_1, ...).
    public var hyperparameters: [(key: String, value: ConfigValue)] = []
    /// `--loss`: a Keras loss name or a loss config as JSON (`Loss(commandLine:)`).
    public var loss: String?
    public var lossSemantics: LossSemantics?
    /// Epoch numbering for resuming a Keras-made checkpoint (its epochs done).
    public var initialEpoch: Int?
    /// Global batch numbers to pass over without a step (`--skip-batches A:B`).
    public var skipBatches: ClosedRange<Int64>?
    /// The convolution algorithm (`--convolution direct`); nil: the checkpoint's, else the fastest.
    public var convolution: ConvolutionChoice?

    public init() {}

    /// The built-in default when no data is given: the question's broken lines.
    public static let defaultData = DataSourceDescription.synthetic(count: 1024, seed: 0)
    public static let defaultBatchSize = 32
}

/// Builds a `TrainingRun` from a model file (train) or from a checkpoint (resume), applying
/// the user's flags over the file's training config over Keras's defaults.
public enum RunSetup {
    /// Starts a run from a Keras model file (`.h5`) or from `model.to_json()` output (`.json`,
    /// initialised with the config's Keras initializers from `--seed`).
    public static func start(modelPath: String, options: TrainingOptions, note: (String) -> Void = { _ in }) throws -> TrainingRun {
        let seed = options.seed ?? 0
        ConvolutionChoice.current = options.convolution ?? .fastest
        let template: KerasModel
        let network: Network
        if modelPath.hasSuffix(".json") {
            (template, network) = try modelFromJSON(modelPath, seed: seed)
        } else {
            template = try KerasModel.loadFullModel(modelPath)
            network = try withFile(modelPath) { try Network(model: template) }
        }
        var optimizer = try withFile(modelPath) { try makeOptimizer(template, network: network, options: options, note: note) }
        try withFile(modelPath) { try apply(options.hyperparameters, to: &optimizer) }
        let losses = try withFile(modelPath) { try lossFor(template, options: options, network: network) }
        let semantics = options.lossSemantics ?? LossSemantics(producer: template.producer, backend: template.backend)
        let (training, validation) = try loadData(options.data ?? TrainingOptions.defaultData, options: options,
                                                  recordedSplit: nil, recordedValidation: nil, network: network, losses: losses)
        let state = RunState(
            epoch: options.initialEpoch ?? 0, globalStep: 0,
            shuffleGenerator: SeededGenerator(seed: seed).hexState,
            dropoutGenerator: SeededGenerator(seed: seed ^ 0xD1B5_4A32_D192_ED03).hexState,
            seed: seed, data: training.source.withAbsolutePaths.dictionary, dataFingerprint: training.fingerprint,
            validation: RunState.Validation(split: options.validationSplit,
                                            data: options.validationData?.withAbsolutePaths.dictionary),
            batchSize: options.batchSize ?? TrainingOptions.defaultBatchSize, shuffle: options.shuffle ?? true,
            loss: losses, lossSemantics: semantics.rawValue,
            bestMonitor: validation == nil ? "loss" : "val_loss", bestValue: nil, bestEpoch: nil,
            history: [], changes: [],
            skipBatches: options.skipBatches.map { [[$0.lowerBound, $0.upperBound]] },
            convolution: options.convolution == .direct ? ConvolutionChoice.direct.rawValue : nil)
        let trainer = Trainer(network: network, optimizer: optimizer, losses: losses, semantics: semantics)
        return try withFile(modelPath) { try TrainingRun(template: template, trainer: trainer, state: state, training: training, validation: validation) }
    }

    /// Continues from a checkpoint: Relapse's (with its recorded state) or Keras's (data from
    /// the flags, numbering from `--initial-epoch`).
    public static func resume(checkpointPath: String, options: TrainingOptions, note: (String) -> Void = { _ in }) throws -> TrainingRun {
        let template = try KerasModel.loadFullModel(checkpointPath)
        guard let recordedText = template.relapseState else {
            guard options.data != nil else {
                throw KerasFileError(checkpointPath, "is a Keras checkpoint without Relapse's state; give the data (--data, --synthetic or --x/--y)")
            }
            return try start(modelPath: checkpointPath, options: options, note: note)
        }
        var state = try withFile(checkpointPath) { try RunState.parse(recordedText) }
        var changes: [String] = []
        let recordedConvolution = state.convolution.flatMap(ConvolutionChoice.init(rawValue:)) ?? .fastest
        ConvolutionChoice.current = options.convolution ?? recordedConvolution
        if ConvolutionChoice.current != recordedConvolution {
            changes.append("convolution \(recordedConvolution.rawValue) -> \(ConvolutionChoice.current.rawValue)")
            state.convolution = ConvolutionChoice.current == .direct ? ConvolutionChoice.direct.rawValue : nil
        }
        if let range = options.skipBatches {
            changes.append("skipping batches \(range.lowerBound) to \(range.upperBound)")
            state.skipBatches = (state.skipBatches ?? []) + [[range.lowerBound, range.upperBound]]
        }
        let network = try withFile(checkpointPath) { try Network(model: template) }
        let nextEpoch = state.epoch + 1

        var optimizer = try withFile(checkpointPath) { try makeOptimizer(template, network: network, options: options, note: note) }
        if let requested = options.optimizer, requested.lowercased() != template.trainingConfig?.optimizerClass.lowercased() {
            changes.append("optimizer \(template.trainingConfig?.optimizerClass ?? "none") -> \(optimizer.className) (state starts fresh)")
        }
        for (key, value) in options.hyperparameters {
            let before = optimizer.config().first { $0.0 == key }?.1
            try withFile(checkpointPath) { try apply([(key, value)], to: &optimizer) }
            if before != value.json { changes.append("\(key) \(before.map { $0.serialized() } ?? "unset") -> \(value.json.serialized())") }
        }
        if let text = options.loss {
            // One loss for every output, each keeping its weight (`compile(loss=...)`'s broadcast).
            let losses = try withFile(checkpointPath) { try checked(state.loss.replacingEveryLoss(with: Loss(commandLine: text)), for: network) }
            if losses != state.loss {
                changes.append("loss \(state.loss) -> \(losses)")
                state.loss = losses
            }
        }
        if let semantics = options.lossSemantics, semantics.rawValue != state.lossSemantics {
            changes.append("loss semantics \(state.lossSemantics) -> \(semantics.rawValue)")
            state.lossSemantics = semantics.rawValue
        }
        if let batchSize = options.batchSize, batchSize != state.batchSize {
            changes.append("batch size \(state.batchSize) -> \(batchSize)")
            state.batchSize = batchSize
        }
        if let shuffle = options.shuffle, shuffle != state.shuffle {
            changes.append(shuffle ? "shuffling on" : "shuffling off")
            state.shuffle = shuffle
        }
        state.changes += changes.map { RunState.Change(epoch: nextEpoch, change: $0) }
        changes.forEach { note("changed from epoch \(nextEpoch): \($0)") }

        let recordedSource = try withFile(checkpointPath) { try DataSourceDescription(dictionary: state.data) }
        let recordedValidation = try withFile(checkpointPath) { try state.validation.data.map { try DataSourceDescription(dictionary: $0) } }
        let (training, validation) = try loadData(options.data ?? recordedSource, options: options,
                                                  recordedSplit: state.validation.split,
                                                  recordedValidation: recordedValidation, network: network, losses: state.loss)
        if training.fingerprint != state.dataFingerprint {
            note("warning: the training data differ from the checkpoint's (fingerprint \(training.fingerprint), recorded \(state.dataFingerprint))")
            state.data = training.source.withAbsolutePaths.dictionary
            state.dataFingerprint = training.fingerprint
        }
        guard let semantics = LossSemantics(rawValue: state.lossSemantics) else {
            throw KerasFileError(checkpointPath, "records unknown loss semantics '\(state.lossSemantics)'")
        }
        let trainer = Trainer(network: network, optimizer: optimizer, losses: try withFile(checkpointPath) { try checked(state.loss, for: network) },
                              semantics: semantics)
        return try withFile(checkpointPath) { try TrainingRun(template: template, trainer: trainer, state: state, training: training, validation: validation) }
    }

    // MARK: Pieces

    /// The file's optimizer with its state, unless `--optimizer` names another class (fresh,
    /// with that Keras's defaults).
    static func makeOptimizer(_ model: KerasModel, network: Network, options: TrainingOptions,
                              note: (String) -> Void) throws -> Optimizer {
        let flavor = OptimizerFlavor(producer: model.producer)
        let shapes = network.trainableVariables.map(\.shape)
        if let config = model.trainingConfig,
           options.optimizer == nil || options.optimizer!.lowercased() == config.optimizerClass.lowercased() {
            var optimizer = try Optimizer(trainingConfig: config, flavor: flavor)
            if let state = model.optimizerState, !state.slots.isEmpty || state.iterations > 0 {
                try optimizer.restore(state, shapes: shapes)
            } else {
                optimizer.build(shapes: shapes)
            }
            return optimizer
        }
        guard let name = options.optimizer else {
            throw RunSetupError("has no training_config naming an optimizer; give --optimizer")
        }
        var optimizer = try Optimizer(className: name, config: [:], flavor: flavor)
        optimizer.build(shapes: shapes)
        if model.optimizerState != nil { note("optimizer \(optimizer.className) starts with fresh state") }
        return optimizer
    }

    static func apply(_ settings: [(key: String, value: ConfigValue)], to optimizer: inout Optimizer) throws {
        for (key, value) in settings { try optimizer.set(key, value) }
    }

    /// The file's loss (every training_config key read or refused, a model with several outputs
    /// by the rules of the Keras that wrote it), or `--loss` for every output with the file's
    /// loss weights. The training_config keys around the loss are refused either way.
    static func lossFor(_ model: KerasModel, options: TrainingOptions, network: Network) throws -> ModelLoss {
        let recorded = model.trainingConfig.map {
            Loss.parse(trainingConfig: $0.json, model: network.definition, generation: model.producer.generation)
        }
        let losses: ModelLoss
        if let text = options.loss {
            try ConfigRefusals(recorded?.otherRefusals ?? []).check()
            let loss = try Loss(commandLine: text)
            if let outputs = recorded?.outputs {
                losses = ModelLoss.perOutput(outputs).replacingEveryLoss(with: loss)
            } else if network.outputCount > 1 {
                let definition = network.definition
                let history = definition.historyOutputNames(generation: model.producer.generation)
                losses = .perOutput(definition.outputNames.indices.map {
                    OutputLoss(name: definition.outputNames[$0], historyName: history[$0], loss: loss)
                })
            } else {
                var weighted = loss
                weighted.weight = recorded?.weight ?? 1
                losses = .single(weighted)
            }
        } else {
            try ConfigRefusals(recorded?.refusals ?? []).check()
            guard let fileLoss = recorded?.modelLoss else {
                throw LossError(description: "has no training_config naming a loss; give --loss")
            }
            losses = fileLoss
        }
        return try checked(losses, for: network)
    }

    /// What a loss's settings mean for this network (`checked(_: Loss, for:)` for each output's),
    /// and, for several outputs, reduction `none` beside another output's loss: Keras adds a
    /// per-sample vector to the other losses' means (and tf-keras's and Keras 3's epoch means
    /// weigh it differently), which is refused.
    static func checked(_ losses: ModelLoss, for network: Network) throws -> ModelLoss {
        switch losses {
        case .single(let loss):
            guard network.outputCount == 1 else {
                throw RunSetupError("records one loss for a model with \(network.outputCount) outputs")
            }
            return .single(try checked(loss, for: network))
        case .perOutput(let outputs):
            guard outputs.count == network.outputCount, outputs.count > 1 else {
                throw RunSetupError("records losses for \(outputs.count) outputs; the model has \(network.outputCount)")
            }
            let withLoss = outputs.filter { $0.loss != nil }.count
            return .perOutput(try outputs.enumerated().map { k, output in
                guard let loss = output.loss else { return output }
                if loss.reduction == .none, withLoss > 1 {
                    throw ConfigRefusals([ConfigRefusal(scope: "loss '\(output.name)'", key: "reduction", value: .string("none"),
                                                        reason: "is not supported beside the losses of other outputs")])
                }
                return output.with(loss: try checked(loss, outputShape: network.outputShapes[k], for: network))
            })
        }
    }

    /// What a loss's settings mean for this network: its axis against the output's rank, and
    /// reduction `none` beside regularizers (Keras then adds each batch's penalty to every
    /// per-sample loss, scaling its gradient by the batch size in tf-keras and failing to sum
    /// mismatched shapes in Keras 3), which is refused.
    static func checked(_ loss: Loss, for network: Network) throws -> Loss {
        try checked(loss, outputShape: network.outputShape, for: network)
    }

    private static func checked(_ loss: Loss, outputShape: [Int], for network: Network) throws -> Loss {
        if loss.reduction == .none, network.hasRegularization {
            throw ConfigRefusals([ConfigRefusal(scope: "loss", key: "reduction", value: .string("none"),
                                                reason: "is not supported together with regularizers")])
        }
        return try loss.resolvingAxis(outputRank: outputShape.count + 1)
    }

    /// What the model reads from a data file: a dataset per input, one per output with a loss.
    static func dataNames(_ network: Network, losses: ModelLoss) -> DataNames {
        let definition = network.definition
        return DataNames(inputs: definition.inputNames, targets: losses.targetOutputs.map { definition.outputNames[$0] },
                         outputCount: network.outputCount)
    }

    static func loadData(_ source: DataSourceDescription, options: TrainingOptions, recordedSplit: Double?,
                         recordedValidation: DataSourceDescription?, network: Network, losses: ModelLoss) throws -> (Dataset, Dataset?) {
        let layout = ImageLayout.forSingleChannel(inputShape: network.inputShape) ?? .nchw
        let names = dataNames(network, losses: losses)
        let labels: [LabelKind] = try losses.targetOutputs.map { k in
            let loss = losses.outputs[k].loss!, shape = network.outputShapes[k]
            if loss.takesClassIndices, shape.count > 1 {
                let output = network.outputCount == 1 ? "an output" : "output '\(network.definition.outputNames[k])'"
                throw KerasFileError(source.name(of: .y), "sparse class indices for \(output) of shape \(Dataset.tuple(shape)) per sample are not supported (one index per sample only); use one-hot labels of that shape with categorical_crossentropy")
            }
            // Labels of the output's whole shape: a (1, 36) output needs (n, 1, 36) labels, and
            // the loss is averaged over every position, as in Keras.
            return loss.takesClassIndices ? .classIndices(classes: shape.last ?? 1) : .valuesOfShape(shape)
        }
        let all = try Dataset.open(source, layout: layout, names: names).validated(inputShapes: network.inputShapes, labels: labels)
        if let validationSource = options.validationData ?? (options.validationSplit == nil ? recordedValidation : nil) {
            let validation = try Dataset.open(validationSource, layout: layout, names: names)
                .validated(inputShapes: network.inputShapes, labels: labels)
            return (all, validation)
        }
        if let split = options.validationSplit ?? recordedSplit, split > 0 {
            let (training, validation) = try all.validationSplit(split)
            return (training, validation)
        }
        return (all, nil)
    }

    /// Model built from `model.to_json()` output, weights drawn from the config's initializers.
    static func modelFromJSON(_ path: String, seed: UInt64) throws -> (KerasModel, Network) {
        let text: String
        if let problem = RegularFile.problem(path) { throw KerasFileError(path, problem) }
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KerasFileError(path, "cannot be read")
        }
        return try withFile(path) {
            let json = try JSONValue.parse(text)
            let definition = try ModelConfigParser.parse(json, generation: Producer(kerasVersion: json["keras_version"]?.stringValue).generation)
            let network = try Network(definition: definition, initializerSeed: seed)
            let weights = network.weightsByLayer
            let layers = definition.layers.filter { !(definition.isSequential && $0.className == "InputLayer") }
            let groups = layers.map { layer in
                LayerWeights(layerName: layer.name, weights: zip(layer.weightNames, weights[layer.name] ?? []).map {
                    NamedArray(name: "\(layer.name)/\($0):0", values: NumericArray($1))
                })
            }
            let file = KerasModelFile(kerasVersion: json["keras_version"]?.stringValue, backend: json["backend"]?.stringValue,
                                      modelConfigJSON: text.trimmingCharacters(in: .whitespacesAndNewlines),
                                      trainingConfigJSON: nil, layerWeights: groups, optimizerWeights: nil)
            return (try KerasModel(file: file), network)
        }
    }

    /// Runs `body`, naming `path` in any error that does not already name a file.
    public static func withFile<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as KerasFileError {
            throw error
        } catch let error as DataError {
            throw error
        } catch {
            throw KerasFileError(path, "\(error)")
        }
    }
}

/// A problem with a model or checkpoint found while setting up a run; `RunSetup.withFile`
/// puts the file's name in front ("FILE: problem"), as it does for any error but those that
/// already name their file (`KerasFileError`, `DataError`).
public struct RunSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
