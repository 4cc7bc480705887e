import ArgumentParser
import KerasFile
import Network

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model between the legacy .h5 layout and Keras 3's .keras, optimizer state included.",
        discussion: """
            The output's extension chooses the format. A tf.keras or Keras 2.2 model written as \
            .keras (or .weights.h5) becomes a Keras 3 model: its architecture in Keras 3's config \
            dialect, its optimizer config in Keras 3's keys, every weight and optimizer slot bit \
            for bit, so Keras 3's load_model continues the run. A .keras written as .h5 keeps its \
            Keras (Keras 3's legacy h5, which Keras 3 loads). Settings Keras 3 has no equivalent \
            for (Keras 2.2's decay, Nadam's schedule) are refused by name.
            """)

    @Argument(help: "The model to read (.h5, .keras).")
    var input: String

    @Argument(help: "Where to write it: .keras, .weights.h5 or .h5 (replaced atomically).")
    var output: String

    func run() throws {
        try reportingFailures {
            var model = try KerasModel.load(input)
            let network = try checkedNetwork(of: model, in: input)
            let format = ModelFileFormat(outputPath: output)
            if format != .h5, let network {
                let shapes = Dictionary(network.layerInfos.map { ($0.name, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
                model = try RunSetupBridge.withFile(input) { try model.convertedToKeras3(outputShapes: shapes) }
            }
            try model.write(to: output, format: format)
        }
    }
}

/// Errors of a conversion name the input file.
enum RunSetupBridge {
    static func withFile<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as KerasFileError { throw error } catch {
            throw KerasFileError(path, "\(error)")
        }
    }
}
