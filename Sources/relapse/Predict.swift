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
        abstract: "Run a Keras model on the inputs x of an HDF5 file and write the outputs as pred.")

    @Argument(help: ArgumentHelp("A Keras .h5 model.", valueName: "model"))
    var model: String

    @Option(help: ArgumentHelp("HDF5 file with a dataset x.", valueName: "file.h5"))
    var data: String

    @Option(help: ArgumentHelp("Where to write the dataset pred.", valueName: "file.h5"))
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
            let inputs = try Dataset.inputs(path: data, modelInputShape: network.inputShape)
            let pred = try RunSetup.withFile(data) {
                let count = inputs.shape.first ?? 0
                try Trainer.checkBatchFits(network: network, batchSize: batchSize, samples: count)
                try MemoryBudget.check("the predictions for \(count) samples", shape: [count] + network.outputShape)
                return try Trainer(network: network, optimizer: Optimizer(Adam()), loss: Loss(.meanSquaredError), semantics: .tfKeras)
                    .predict(inputs, batchSize: batchSize)
            }
            try AtomicFile.write(to: out) { temporary in
                let file = try HDF5.File.create(temporary)
                try file.root.createDataset("pred", values: NumericArray(pred))
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
