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
            try execute(training, flags: runFlags, defaultDirectory: "runs/default")
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue training from a checkpoint (Relapse's or Keras's), unchanged or with new hyperparameters.")

    @Argument(help: ArgumentHelp("The checkpoint to continue from.", valueName: "checkpoint.h5"))
    var checkpoint: String

    @Option(help: "Epochs done before this Keras checkpoint (numbering of the new epochs).")
    var initialEpoch: Int?

    @OptionGroup var runFlags: RunFlags
    @OptionGroup var data: DataFlags
    @OptionGroup var hyperparameters: HyperparameterFlags

    func run() throws {
        try reportingFailures {
            var options = trainingOptions(data: data, hyperparameters: hyperparameters)
            options.initialEpoch = initialEpoch
            let training = try RunSetup.resume(checkpointPath: checkpoint, options: options, note: { print($0) })
            let folder = URL(fileURLWithPath: checkpoint).deletingLastPathComponent().path
            try execute(training, flags: runFlags, defaultDirectory: folder)
        }
    }
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
func execute(_ training: TrainingRun, flags: RunFlags, defaultDirectory: String) throws {
    StopRequest.installInterruptHandler()
    if let format = flags.format { training.checkpointFormat = format == .keras ? .keras : .h5 }
    if training.checkpointFormat == .keras, case .keras2 = training.template.producer {
        throw KerasFileError("--format keras", "the model is from Keras \(training.template.kerasVersion ?? "2.x"), which has no .keras format: train with --format h5, or make a Keras 3 file first with `relapse convert IN.h5 OUT.keras`")
    }
    let directory = flags.checkpoints ?? defaultDirectory
    let summary = try training.run(epochs: flags.epochs, directory: directory, saveEvery: flags.saveEvery,
                                   stopOnNonFinite: flags.stopOnNan, reporter: ConsoleReporter())
    let last = summary.lastCheckpoint ?? "none"
    if let (epoch, batch) = summary.nonFinite {
        print(nonFiniteReport(epoch: epoch, batch: batch, summary: summary, stopped: flags.stopOnNan))
    }
    if summary.interrupted {
        print("interrupted: epoch \(training.state.epoch + 1) was not finished and not saved; last checkpoint \(last)")
        throw ExitCode(130)
    }
    print("trained \(summary.epochsDone) epochs in \(directory) at \(Int(summary.imagesPerSecond.rounded())) images/s; last checkpoint \(last)")
    if flags.stopOnNan, summary.nonFinite != nil { throw ExitCode(1) }
}
