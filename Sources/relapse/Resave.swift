import ArgumentParser
import KerasFile
import Network

struct Resave: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a Keras file through Relapse and write it back in tf.keras 2.x's .h5 layout.",
        discussion: "A full model (model.save) is checked against its architecture and written as a full model; a save_weights file is written as weights.")

    @Argument(help: "The Keras .h5 model to read.")
    var input: String

    @Argument(help: "Where to write it (replaced atomically; nothing is left behind on failure).")
    var output: String

    func run() throws {
        try reportingFailures {
            let model = try KerasModel.load(input)
            _ = try checkedNetwork(of: model, in: input)
            try model.write(to: output)
        }
    }
}
