import ArgumentParser
import Diagnostics
import Foundation

struct Bisect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay the epoch where a run's problem began, batch by batch, and name the first batch where it starts.",
        discussion: """
            Rebuilds the run from the checkpoint of the epoch before (bit for bit, as resume does), \
            trains that epoch again without writing anything, and reports each batch's loss, \
            gradient norm and Adam update RMS, and the first batch whose loss alone is a spike \
            (spike rule, docs/DIAGNOSIS.md) with its samples' indices in the training data. \
            Exit status: 0 ran, 2 bad input.
            """)

    @Argument(help: ArgumentHelp("The run's checkpoint folder.", valueName: "run-dir"))
    var directory: String

    @Option(help: "The epoch to replay (default: the run's first problem: spike, sustained rise, NaN or explosion).")
    var epoch: Int?

    @Flag(help: "List every batch (default: the batches around the named one).")
    var all = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        try reportingFailures {
            let report = try BisectReport(directory: directory, epoch: epoch)
            print(json ? report.json().prettyPrinted() : report.text(all: all))
        }
    }
}
