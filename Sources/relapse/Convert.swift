import ArgumentParser
import KerasFile
import Network

/// The Keras generation whose config dialect `convert` writes.
enum DialectFlag: String, ExpressibleByArgument, CaseIterable {
    case tfKeras = "tf-keras"
    case keras3
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model between the legacy .h5 layout and Keras 3's .keras, and between tf-keras's and Keras 3's config dialects, optimizer state included.",
        discussion: """
            The output's extension chooses the format, --dialect the Keras it is written for \
            (default: Keras 3 for .keras and .weights.h5, the input's own Keras for .h5). A \
            tf.keras or Keras 2.2 model written for Keras 3 gets its architecture in Keras 3's \
            config dialect and its optimizer config in Keras 3's keys; a Keras 3 model written \
            for tf-keras gets tf-keras's, nested models kept as models. Every weight and \
            optimizer slot is carried over bit for bit, so the target Keras continues the run \
            (Keras 3's legacy .h5 loader itself restores no optimizer slots: write .keras for \
            Keras 3). Settings the target has no equivalent for (Keras 2.2's decay, Nadam, \
            Keras 3's hard_sigmoid, which tf-keras computes differently, a channels_first \
            convolution whose bias Keras 3 on TensorFlow adds along the width) are refused by name.
            """)

    @Argument(help: "The model to read (.h5, .keras).")
    var input: String

    @Argument(help: "Where to write it: .keras, .weights.h5 or .h5 (replaced atomically).")
    var output: String

    @Option(help: "The Keras the output is for: tf-keras or keras3 (default: keras3 for .keras and .weights.h5, the input's Keras for .h5).")
    var dialect: DialectFlag?

    func run() throws {
        try reportingFailures {
            var model = try KerasModel.load(input)
            let network = try checkedNetwork(of: model, in: input)
            let format = ModelFileFormat(outputPath: output)
            // A weights-only file has no config to write in another dialect: as it is, unless asked.
            if let dialect, network == nil {
                throw KerasFileError(input, "is a weights-only file; --dialect \(dialect.rawValue) needs an architecture to convert")
            }
            switch dialect ?? (format == .h5 || network == nil ? nil : .keras3) {
            case .keras3:
                guard let network else { break }
                let shapes = Dictionary(network.layerInfos.map { ($0.name, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
                let source = model.producer
                model = try RunSetupBridge.withFile(input) { try model.convertedToKeras3(outputShapes: shapes) }
                // What Keras 3 would compute otherwise than the input's Keras is refused, here
                // found by the converted model's shapes (Keras3BiasAxis).
                try RunSetupBridge.withFile(input) {
                    try ConfigRefusals(Network.shapeRefusals(of: model, convertedFrom: source)).check()
                }
            case .tfKeras:
                model = try RunSetupBridge.withFile(input) { try model.convertedToTFKeras() }
            case nil:
                break
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
