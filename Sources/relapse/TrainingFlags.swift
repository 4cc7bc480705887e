import ArgumentParser
import Kernels
import Budget
import Training

/// `--max-memory`: the resource policy's budget (docs/RELIABILITY.md, "Sizes").
struct BudgetFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Most memory a file, a config or a flag may make Relapse plan to allocate (a weight, a data set, a batch): bytes, or with K, M, G, T (powers of 1024). Default: half this machine's memory, or RELAPSE_MAX_MEMORY.",
        valueName: "size"))
    var maxMemory: String?

    func validate() throws {
        guard let maxMemory else { return }
        guard let bytes = MemoryBudget.parse(maxMemory) else {
            throw ValidationError("--max-memory must be a positive size such as 8G, 512M or 1000000 (bytes)")
        }
        // Set here, once the arguments are known and before any command body runs.
        MemoryBudget.bytes = bytes
    }
}

/// Where the training data come from (any one of them) and the validation data.
struct DataFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Use N samples of the built-in broken-lines generator.")
    var synthetic: Int?

    @Option(help: "Seed of the broken-lines generator.")
    var dataSeed: UInt64 = 0

    @Option(help: ArgumentHelp("An HDF5 file with datasets x and y (or full and broken), or one per model input and per output with a loss, named after it.", valueName: "file.h5"))
    var data: String?

    @Option(help: ArgumentHelp("NumPy inputs; needs --y.", valueName: "x.npy"))
    var x: String?

    @Option(help: ArgumentHelp("NumPy labels; needs --x.", valueName: "y.npy"))
    var y: String?

    @Option(parsing: .unconditional, help: "Hold out the last fraction of the data for validation (Keras's validation_split).")
    var validationSplit: Double?

    @Option(help: ArgumentHelp("Validation data: an HDF5 file laid out as --data's.", valueName: "file.h5"))
    var validationData: String?

    func validate() throws {
        let given = [synthetic != nil, data != nil, x != nil || y != nil].filter { $0 }.count
        if given > 1 { throw ValidationError("give one data source: --synthetic, --data or --x/--y") }
        if (x == nil) != (y == nil) { throw ValidationError("--x and --y go together") }
        if let synthetic, synthetic <= 0 { throw ValidationError("--synthetic needs a positive count") }
        if let split = validationSplit, !(split > 0 && split < 1) { throw ValidationError("--validation-split must be between 0 and 1") }
        if validationSplit != nil && validationData != nil { throw ValidationError("give --validation-split or --validation-data, not both") }
    }

    var source: DataSourceDescription? {
        if let synthetic { return .synthetic(count: synthetic, seed: dataSeed) }
        if let data { return .hdf5(path: data) }
        if let x, let y { return .npy(xPath: x, yPath: y) }
        return nil
    }
}

/// Training hyperparameters; each overrides the file's training_config.
struct HyperparameterFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Samples per batch (Keras's default 32).")
    var batchSize: Int?

    @Option(help: "Seed for shuffling, dropout and (for a .json model) the initial weights.")
    var seed: UInt64?

    @Flag(help: "Keep the data's order (Keras's shuffle=False).")
    var noShuffle = false

    @Option(help: ArgumentHelp(
        "Optimizer class, in any case: Adam, AdamW, SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam (Nadam not for tf-keras 2.11+ files, AdamW not for Keras 2.2). A different class than the file's starts fresh.",
        valueName: "name"))
    var optimizer: String?

    @Option(parsing: .unconditional, help: "Learning rate (replaces the file's, schedule included).") var learningRate: Double?
    @Option(parsing: .unconditional, help: "Adam/AdamW/Adamax/Nadam/RMSprop/Adagrad/Adadelta epsilon.") var epsilon: Double?
    @Option(parsing: .unconditional, help: "Adam/AdamW/Adamax/Nadam beta_1, in [0, 1).") var beta1: Double?
    @Option(parsing: .unconditional, help: "Adam/AdamW/Adamax/Nadam beta_2, in [0, 1).") var beta2: Double?
    @Option(parsing: .unconditional, help: "SGD/RMSprop momentum, in [0, 1].") var momentum: Double?
    @Flag(inversion: .prefixedNo, help: "Adam/AdamW amsgrad.") var amsgrad: Bool?
    @Flag(inversion: .prefixedNo, help: "SGD Nesterov momentum.") var nesterov: Bool?
    @Option(parsing: .unconditional, help: "RMSprop/Adadelta rho, in [0, 1).") var rho: Double?
    @Option(parsing: .unconditional, help: "Clip each gradient to this L2 norm (Keras 2.2: all gradients together).") var clipnorm: Double?
    @Option(parsing: .unconditional, help: "Clip gradient values to [-v, v].") var clipvalue: Double?
    @Option(parsing: .unconditional, help: "Clip all gradients together to this L2 norm (not in Keras 2.2).") var globalClipnorm: Double?
    @Option(parsing: .unconditional, help: "Decoupled weight decay, w -= w * wd * lr before each step (not in Keras 2.2).") var weightDecay: Double?

    @Option(help: ArgumentHelp(
        "Loss, replacing the file's, for every output (its loss_weights stay): a Keras name or alias in any case (binary_crossentropy/bce, "
            + "categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error/mse, mean_absolute_error/mae, "
            + "mean_absolute_percentage_error/mape, mean_squared_logarithmic_error/msle, huber, hinge, squared_hinge, "
            + "categorical_hinge, kl_divergence/kld, poisson, log_cosh, or a class name such as BinaryCrossentropy), "
            + "or a Keras loss config as JSON: '{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"from_logits\": true}}'.",
        valueName: "name-or-json"))
    var loss: String?

    @Option(help: "Loss math of a Keras version: keras2.2, tf.keras, keras3 (JAX/PyTorch), keras3-tensorflow. Default: the file's own.")
    var lossSemantics: String?

    @Option(help: ArgumentHelp("Pass over global batches A to B (1-based, counted over the whole run: epoch e's batch b is (e - 1) x batches per epoch + b) without a step, as large-model practice does around a loss spike.", valueName: "A:B"))
    var skipBatches: String?

    @Option(help: "Convolution algorithm: fastest (FFT/Winograd where they save work; the default) or direct (im2col + GEMM everywhere, ~10x smaller float32 rounding).")
    var convolution: String?

    /// `--skip-batches A:B` as a range (validated).
    var skipRange: ClosedRange<Int64>? {
        guard let skipBatches else { return nil }
        let parts = skipBatches.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a >= 1, b >= a else { return nil }
        return a...b
    }

    func validate() throws {
        if let batchSize, batchSize <= 0 { throw ValidationError("--batch-size must be positive") }
        if let lossSemantics, LossSemantics(rawValue: lossSemantics) == nil {
            throw ValidationError("--loss-semantics must be one of \(LossSemantics.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let optimizer, !Optimizer.supportedClassNames.contains(where: { $0.lowercased() == optimizer.lowercased() }) {
            throw ValidationError("--optimizer must be one of \(Optimizer.supportedClassNames.joined(separator: ", ")) (any case)")
        }
        let ranges: [(String, Double?, (Double) -> Bool, String)] = [
            ("--learning-rate", learningRate, { $0 > 0 }, "positive"),
            ("--epsilon", epsilon, { $0 > 0 }, "positive"),
            ("--beta1", beta1, { $0 >= 0 && $0 < 1 }, "in [0, 1)"),
            ("--beta2", beta2, { $0 >= 0 && $0 < 1 }, "in [0, 1)"),
            ("--momentum", momentum, { $0 >= 0 && $0 <= 1 }, "in [0, 1]"),
            ("--rho", rho, { $0 >= 0 && $0 < 1 }, "in [0, 1)"),
            ("--clipnorm", clipnorm, { $0 > 0 }, "positive"),
            ("--clipvalue", clipvalue, { $0 > 0 }, "positive"),
            ("--global-clipnorm", globalClipnorm, { $0 > 0 }, "positive"),
            ("--weight-decay", weightDecay, { $0 >= 0 }, "at least 0"),
        ]
        for (name, value, valid, wanted) in ranges {
            if let value, !(value.isFinite && valid(value)) { throw ValidationError("\(name) must be a finite number \(wanted)") }
        }
        if clipnorm != nil && globalClipnorm != nil { throw ValidationError("give --clipnorm or --global-clipnorm, not both") }
        if skipBatches != nil && skipRange == nil { throw ValidationError("--skip-batches takes A:B, two batch numbers with 1 <= A <= B") }
        if let convolution, ConvolutionChoice(rawValue: convolution) == nil {
            throw ValidationError("--convolution must be one of \(ConvolutionChoice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func apply(to options: inout TrainingOptions) {
        options.batchSize = batchSize
        options.seed = seed
        if noShuffle { options.shuffle = false }
        options.optimizer = optimizer.map { name in
            Optimizer.supportedClassNames.first { $0.lowercased() == name.lowercased() } ?? name
        }
        options.loss = loss
        options.lossSemantics = lossSemantics.flatMap(LossSemantics.init(rawValue:))
        options.skipBatches = skipRange
        options.convolution = convolution.flatMap(ConvolutionChoice.init(rawValue:))
        let settings: [(String, ConfigValue?)] = [
            ("learning_rate", learningRate.map(ConfigValue.double)), ("epsilon", epsilon.map(ConfigValue.double)),
            ("beta_1", beta1.map(ConfigValue.double)), ("beta_2", beta2.map(ConfigValue.double)),
            ("momentum", momentum.map(ConfigValue.double)), ("amsgrad", amsgrad.map(ConfigValue.bool)),
            ("nesterov", nesterov.map(ConfigValue.bool)), ("rho", rho.map(ConfigValue.double)),
            ("clipnorm", clipnorm.map(ConfigValue.double)), ("clipvalue", clipvalue.map(ConfigValue.double)),
            ("global_clipnorm", globalClipnorm.map(ConfigValue.double)), ("weight_decay", weightDecay.map(ConfigValue.double)),
        ]
        options.hyperparameters = settings.compactMap { key, value in value.map { (key, $0) } }
    }
}

/// Epochs, where checkpoints go, and how often.
struct RunFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Epochs to train.")
    var epochs: Int = 10

    @Option(help: ArgumentHelp("Folder for epoch-NNNN.h5, best.h5 and history.csv (train: runs/default; resume: a new branch folder beside the checkpoint, or the checkpoint's own folder to continue that run).", valueName: "dir"))
    var checkpoints: String?

    @Option(parsing: .unconditional, help: "Write epoch-NNNN.h5 every K epochs (best.h5, history.csv and the last epoch always).")
    var saveEvery: Int = 1

    @Flag(help: "Stop at the first NaN or infinite loss, like Keras's TerminateOnNaN; checkpoints are kept.")
    var stopOnNan = false

    @Option(help: ArgumentHelp("Stop after the epoch where this symptom holds (its checkpoint is written); repeatable. Symptoms: \(Symptoms.names.joined(separator: ", ")) (docs/DIAGNOSIS.md).", valueName: "symptom"))
    var stopOn: [String] = []

    @Flag(help: "Replace what is in the checkpoint folder: another run's files (train, or resume into another folder), or the checkpoints after the one resumed from (resume --checkpoints into its own folder). Without it, runs never overwrite each other.")
    var overwrite = false

    @OptionGroup var budget: BudgetFlags

    @Option(help: ArgumentHelp("Checkpoint format: h5 (legacy HDF5) or keras (Keras 3's zip); default: the format of the file the run started from.", valueName: "h5|keras"))
    var format: CheckpointFormatFlag?

    func validate() throws {
        if epochs <= 0 || epochs > TrainingRun.maxEpoch { throw ValidationError("--epochs must be between 1 and \(TrainingRun.maxEpoch)") }
        if saveEvery <= 0 { throw ValidationError("--save-every must be positive") }
        for name in stopOn where Symptoms.rule(named: name) == nil {
            throw ValidationError("--stop-on: no symptom '\(name)'; symptoms: \(Symptoms.names.joined(separator: ", "))")
        }
    }
}

enum CheckpointFormatFlag: String, ExpressibleByArgument, CaseIterable {
    case h5, keras
}
