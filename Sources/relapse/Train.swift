import ArgumentParser
import Foundation
import KerasFile
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a Keras model with Keras's math, writing a Keras checkpoint every epoch.",
        discussion: """
            With no arguments: the original question's model (fixtures/broken-lines-start.h5) on \
            1024 synthetic broken-lines images, 10 epochs, checkpoints in runs/default.

            Every setting in the file is honoured with the math of the Keras that wrote it, or \
            refused by name (exit 2; `relapse inspect` lists them all). Supported: layers \
            InputLayer, Dense, Conv2D (groups, dilation), Conv1D, DepthwiseConv2D, SeparableConv2D, \
            Conv2DTranspose, Max/AveragePooling 1D/2D, global pooling, ZeroPadding2D, Cropping2D, \
            UpSampling2D, Permute, Flatten, Reshape, Dropout, SpatialDropout2D, Activation, ReLU, \
            LeakyReLU, PReLU, ELU, Softmax, BatchNormalization, Rescaling, Normalization, Add, \
            Subtract, Multiply, Average, Maximum, Minimum, Concatenate, nested models; trainable, L1/L2/L1L2 \
            weight and activity regularizers, MaxNorm/NonNeg/UnitNorm/MinMaxNorm constraints; \
            losses binary/categorical/sparse categorical crossentropy (from_logits, \
            label_smoothing), mean squared/absolute (percentage) error, mean squared logarithmic \
            error, huber, hinge, squared_hinge, categorical_hinge, kl_divergence, poisson, \
            log_cosh, reductions sum_over_batch_size, sum and none, loss_weights; optimizers Adam, AdamW, \
            SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam with clipnorm, clipvalue, \
            global_clipnorm, weight_decay and the ExponentialDecay, PiecewiseConstantDecay, \
            InverseTimeDecay and CosineDecay schedules.
            """)

    @Argument(help: ArgumentHelp("A Keras .h5 model (model.save), or model.to_json() output (.json).", valueName: "model"))
    var model: String = "fixtures/broken-lines-start.h5"

    @OptionGroup var runFlags: RunFlags
    @OptionGroup var data: DataFlags
    @OptionGroup var hyperparameters: HyperparameterFlags

    func run() throws {
        try reportingFailures {
            let options = trainingOptions(data: data, hyperparameters: hyperparameters)
            let training = try RunSetup.start(modelPath: model, options: options, note: { print($0) })
            try execute(training, flags: runFlags, directory: runFlags.checkpoints ?? "runs/default", start: .newRun)
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue training from a checkpoint (Relapse's or Keras's), unchanged or with new hyperparameters.")

    @Argument(help: ArgumentHelp("The checkpoint to continue from.", valueName: "checkpoint.h5"))
    var checkpoint: String

    @Option(parsing: .unconditional, help: "Epochs done before this Keras checkpoint (numbering of the new epochs).")
    var initialEpoch: Int?

    func validate() throws {
        if let initialEpoch, initialEpoch < 0 || initialEpoch >= TrainingRun.maxEpoch {
            throw ValidationError("--initial-epoch must be between 0 and \(TrainingRun.maxEpoch - 1)")
        }
    }

    @OptionGroup var runFlags: RunFlags
    @OptionGroup var data: DataFlags
    @OptionGroup var hyperparameters: HyperparameterFlags

    func run() throws {
        try reportingFailures {
            var options = trainingOptions(data: data, hyperparameters: hyperparameters)
            options.initialEpoch = initialEpoch
            let training = try RunSetup.resume(checkpointPath: checkpoint, options: options, note: { print($0) })
            let fork = training.state.epoch
            let parentFolder = (checkpoint as NSString).deletingLastPathComponent
            let branch = BranchRecord(
                parent: URL(fileURLWithPath: checkpoint).standardizedFileURL.path, epoch: fork,
                changes: training.state.changes.filter { $0.epoch == fork + 1 }.map(\.change))
            if let directory = runFlags.checkpoints {
                if sameFolder(directory, parentFolder.isEmpty ? "." : parentFolder) {
                    // Continuing the run in its own folder: only epochs after the checkpoint are written.
                    try execute(training, flags: runFlags, directory: directory,
                                start: .continuing(epoch: fork, bestEpoch: training.state.bestEpoch))
                } else {
                    try execute(training, flags: runFlags, directory: directory, start: .newRun, branch: branch)
                }
                return
            }
            // By default a resume is a branch: a new folder beside the checkpoint, named after
            // the fork and the changes, so the run it came from stays as it was.
            let directory = try makeBranchFolder(in: parentFolder.isEmpty ? "." : parentFolder,
                                                 name: branchName(fork: fork, data: data, hyperparameters: hyperparameters))
            print("branch: epochs \(fork + 1) to \(fork + runFlags.epochs) go to \(directory) (the run the checkpoint belongs to is left as it is; --checkpoints DIR chooses the folder)")
            try execute(training, flags: runFlags, directory: directory, start: .newRun, branch: branch)
        }
    }
}

/// `from-0002`, `from-0002-lr0.05`, `from-0002-sgd-lr0.1-batch64`: the fork's epoch, then each
/// setting the resume was given.
func branchName(fork: Int, data: DataFlags, hyperparameters h: HyperparameterFlags) -> String {
    func number(_ value: Double) -> String { "\(value)" }
    var parts = ["from-" + String(format: "%04d", fork)]
    if let optimizer = h.optimizer { parts.append(optimizer.lowercased()) }
    let settings: [(String, Double?)] = [("lr", h.learningRate), ("eps", h.epsilon), ("beta1-", h.beta1), ("beta2-", h.beta2),
                                         ("momentum", h.momentum), ("rho", h.rho)]
    for case let (name, value?) in settings { parts.append(name + number(value)) }
    if let amsgrad = h.amsgrad { parts.append(amsgrad ? "amsgrad" : "no-amsgrad") }
    if let nesterov = h.nesterov { parts.append(nesterov ? "nesterov" : "no-nesterov") }
    if let loss = h.loss { parts.append(loss) }
    if let semantics = h.lossSemantics { parts.append(semantics) }
    if let range = h.skipRange { parts.append("skip\(range.lowerBound)-\(range.upperBound)") }
    if let convolution = h.convolution { parts.append(convolution) }
    if let batchSize = h.batchSize { parts.append("batch\(batchSize)") }
    if let seed = h.seed { parts.append("seed\(seed)") }
    if h.noShuffle { parts.append("no-shuffle") }
    if data.source != nil { parts.append("data") }
    if data.validationSplit != nil || data.validationData != nil { parts.append("validation") }
    var name = parts.joined(separator: "-").map { $0 == "/" || $0 == " " ? "_" : $0 }.reduce(into: "") { $0.append($1) }
    while name.utf8.count > 120 { name.removeLast() }
    return name
}

/// Creates `folder/name`, or `name-2`, `name-3`, ... when taken: a branch never lands in an
/// existing folder.
func makeBranchFolder(in folder: String, name: String) throws -> String {
    for attempt in 1...1000 {
        let path = (folder == "." ? "" : folder + "/") + name + (attempt == 1 ? "" : "-\(attempt)")
        if mkdir(path, 0o755) == 0 { return path }
        guard errno == EEXIST else {
            throw KerasFileError(path, "cannot hold checkpoints: cannot create it: \(String(cString: strerror(errno)))")
        }
    }
    throw KerasFileError(folder, "cannot hold checkpoints: a thousand branches named \(name) already")
}

/// Whether two paths name the same existing folder (or the same path, when neither exists yet).
func sameFolder(_ a: String, _ b: String) -> Bool {
    var x = stat(), y = stat()
    if stat(a, &x) == 0, stat(b, &y) == 0 { return x.st_dev == y.st_dev && x.st_ino == y.st_ino }
    return URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
}

func trainingOptions(data: DataFlags, hyperparameters: HyperparameterFlags) -> TrainingOptions {
    var options = TrainingOptions()
    options.data = data.source
    options.validationSplit = data.validationSplit
    options.validationData = data.validationData.map { .hdf5(path: $0) }
    hyperparameters.apply(to: &options)
    return options
}

/// Runs the epochs and prints the closing summary; Ctrl-C ends after the current batch.
func execute(_ training: TrainingRun, flags: RunFlags, directory: String, start: CheckpointFolder.Start,
             branch: BranchRecord? = nil) throws {
    StopRequest.installInterruptHandler()
    if let format = flags.format { training.checkpointFormat = format == .keras ? .keras : .h5 }
    if training.checkpointFormat == .keras, case .keras2 = training.template.producer {
        throw KerasFileError("--format keras", "the model is from Keras \(training.template.kerasVersion ?? "2.x"), which has no .keras format: train with --format h5, or make a Keras 3 file first with `relapse convert IN.h5 OUT.keras`")
    }
    let summary = try training.run(epochs: flags.epochs, directory: directory, start: start, overwrite: flags.overwrite,
                                   branch: branch, saveEvery: flags.saveEvery,
                                   stopOnNonFinite: flags.stopOnNan, stopOn: Set(flags.stopOn), reporter: ConsoleReporter())
    let last = summary.lastCheckpoint ?? "none"
    if let (epoch, batch) = summary.nonFinite {
        print(nonFiniteReport(epoch: epoch, batch: batch, summary: summary, stopped: flags.stopOnNan))
    }
    if summary.interrupted {
        print("interrupted: epoch \(training.state.epoch + 1) was not finished and not saved; last checkpoint \(last)")
        throw ExitCode(130)
    }
    print("trained \(summary.epochsDone) epochs in \(directory) at \(Int(summary.imagesPerSecond.rounded())) images/s; last checkpoint \(last)")
    if let hit = summary.stoppedOnSymptom {
        print("stopped: \(hit.symptom) at epoch \(hit.epoch) (--stop-on \(hit.symptom)): \(hit.detail)")
        throw ExitCode(1)
    }
    if flags.stopOnNan, summary.nonFinite != nil { throw ExitCode(1) }
}
