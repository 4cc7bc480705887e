import ArgumentParser
import Budget
import Foundation
import HDF5
import KerasFile
import Kernels
import Network
import Training

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Keras model on the inputs of an HDF5 file and write its outputs.",
        discussion: """
            The data file holds x, or one dataset per model input named after it (a model with \
            several inputs). The output file gets pred, or one dataset per model output named \
            after it (a model with several outputs).
            """)

    @Argument(help: ArgumentHelp("A Keras .h5 model.", valueName: "model"))
    var model: String

    @Option(help: ArgumentHelp("HDF5 file with a dataset x, or one per model input.", valueName: "file.h5"))
    var data: String

    @Option(help: ArgumentHelp("Where to write pred, or one dataset per model output.", valueName: "file.h5"))
    var out: String

    @Option(parsing: .unconditional, help: "Samples per batch.") var batchSize: Int = 32

    @OptionGroup var budget: BudgetFlags

    func validate() throws {
        if batchSize <= 0 { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try reportingFailures {
            let keras = try KerasModel.loadFullModel(model)
            let network = try RunSetup.withFile(model) { try Network(model: keras) }
            let definition = network.definition
            let inputs = try Dataset.inputs(path: data, names: definition.inputNames, shapes: network.inputShapes)
            let predictions = try RunSetup.withFile(data) {
                let count = inputs[0].shape.first ?? 0
                try Trainer.checkBatchFits(network: network, batchSize: batchSize, samples: count)
                try MemoryBudget.check("the predictions for \(count) samples",
                                       bytes: MemoryBudget.sum(network.outputShapes.map { MemoryBudget.byteCount([count] + $0) }))
                return try Trainer(network: network, optimizer: Optimizer(Adam()), loss: Loss(.meanSquaredError), semantics: .tfKeras)
                    .predict(inputs: inputs, batchSize: batchSize)
            }
            // One output: `pred`, as always; several: each under its output's name, the names
            // `fit` keys its targets by (and Relapse's data files name their targets).
            let names = predictions.count == 1 ? ["pred"] : definition.outputNames
            try AtomicFile.write(to: out) { temporary in
                let file = try HDF5.File.create(temporary)
                for (name, prediction) in zip(names, predictions) {
                    try file.root.createDataset(name, values: NumericArray(prediction))
                }
                try file.flush()
            }
        }
    }
}

struct MakeData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-data",
        abstract: "Write the synthetic broken-lines set as x and y, so Keras can train on exactly the same data.")

    @Option(parsing: .unconditional, help: "Number of samples.")
    var synthetic: Int

    @OptionGroup var budget: BudgetFlags

    @Option var dataSeed: UInt64 = 0

    @Flag(help: "Images as (n, 32, 32, 1) instead of (n, 1, 32, 32).")
    var channelsLast = false

    @Option(help: ArgumentHelp("Output HDF5 file.", valueName: "file.h5"))
    var out: String

    func run() throws {
        try reportingFailures {
            try Dataset.checkSyntheticFits(count: synthetic)
            try writeDataset(Dataset.synthetic(count: synthetic, seed: dataSeed, layout: channelsLast ? .nhwc : .nchw), to: out)
        }
    }
}
