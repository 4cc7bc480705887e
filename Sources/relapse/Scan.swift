import ArgumentParser
import Diagnostics
import Foundation
import KerasFile

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan a run's checkpoints in epoch order: where the loss jumped, where NaN or an explosion began, what to resume from.",
        discussion: """
            Reads Relapse's epoch-NNNN.h5 and Keras ModelCheckpoint files whose names hold the \
            epoch (weights.05-0.42.h5, model_epoch_12.h5), with history.csv or training.log \
            beside them. Exit status: 0 healthy, 1 NaN/Inf, explosion or loss jump found, 2 \
            nothing readable.
            """)

    @Argument(help: ArgumentHelp("The run's checkpoint folder.", valueName: "dir"))
    var directory: String

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Also draw loss, val_loss and per-layer norms as an SVG.", valueName: "file.svg"))
    var plot: String?

    @Option(help: "A weight whose norm grows more than this factor from one checkpoint to the next has exploded.")
    var explosionRatio: Double = 10

    @Option(help: "A weight with any |value| above this has exploded (not checked unless given).")
    var maxAbs: Double?

    @Option(help: "A loss at least this many times the best so far (and 0.05 above it) is a jump.")
    var jumpFactor: Double = 2

    func validate() throws {
        guard explosionRatio > 1 else { throw ValidationError("--explosion-ratio must be above 1") }
        guard jumpFactor > 1 else { throw ValidationError("--jump-factor must be above 1") }
        if let maxAbs, !(maxAbs > 0) { throw ValidationError("--max-abs must be positive") }
    }

    func run() throws {
        var status: Int32 = 0
        try reportingFailures {
            var options = RunScan.Options()
            options.explosion = ExplosionThresholds(normRatio: explosionRatio, maxAbs: maxAbs)
            options.jumpFactor = jumpFactor
            let scan = try RunScan(directory: directory, options: options)
            if let plot {
                try AtomicFile.write(to: plot) { try RunPlot.svg(scan).write(toFile: $0, atomically: false, encoding: .utf8) }
            }
            print(json ? scan.json().prettyPrinted() : scan.text())
            status = scan.verdict.exitStatus
        }
        if status != 0 { throw ExitCode(status) }
    }
}
