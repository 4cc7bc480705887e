import ArgumentParser
import Diagnostics
import KerasFile
import Network

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a Keras .h5 file holds: producer, layers, weights, optimizer state, training config.")

    @Argument(help: "A Keras .h5 file (model.save or save_weights; Keras 2.2, tf.keras 2.x or Keras 3).")
    var file: String

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @OptionGroup var budget: BudgetFlags

    func run() throws {
        try reportingFailures {
            let model = try KerasModel.load(file)
            // Every refused setting is listed; the network (which checks weight shapes) is
            // built only when no layer is refused.
            let layerRefusals = ModelReport.layerRefusals(of: model)
            let refusals = layerRefusals + ModelReport.trainingRefusals(of: model)
            let network = layerRefusals.isEmpty ? try checkedNetwork(of: model, in: file) : nil
            let report = try ModelReport(path: file, model: model, notes: LossSemanticsNote.notes(for: model, network: network),
                                         refusals: refusals)
            print(json ? report.json().prettyPrinted() : report.text())
        }
    }
}
