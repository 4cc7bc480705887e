import ArgumentParser
import Diagnostics

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two checkpoints tensor by tensor: NaN/Inf, explosions, Adam's update ratio.",
        discussion: """
            Exit status: 0 healthy, 1 NaN/Inf or an exploded weight found, 2 the files could not \
            be read or compared (two different architectures included).
            """)

    @Argument(help: ArgumentHelp("The earlier checkpoint (any Keras .h5 layout).", valueName: "a.h5"))
    var a: String

    @Argument(help: ArgumentHelp("The later checkpoint.", valueName: "b.h5"))
    var b: String

    @Flag(help: "Print one JSON object (verdict, tensors) instead of a table.")
    var json = false

    @Option(help: "A weight whose norm grows more than this factor from A to B has exploded.")
    var explosionRatio: Double = 10

    @Option(help: "A weight with any |value| above this has exploded (not checked unless given).")
    var maxAbs: Double?

    func validate() throws {
        guard explosionRatio > 1 else { throw ValidationError("--explosion-ratio must be above 1") }
        if let maxAbs, !(maxAbs > 0) { throw ValidationError("--max-abs must be positive") }
    }

    func run() throws {
        var status: Int32 = 0
        try reportingFailures {
            let diff = try CheckpointDiff(CheckpointTensors(path: a), CheckpointTensors(path: b),
                                          thresholds: ExplosionThresholds(normRatio: explosionRatio, maxAbs: maxAbs))
            if let difference = diff.architectureDifference {
                // Unrelated models: comparing their numbers would only mislead ("Verdict: ok").
                throw DiagnosisError("\(b): is not a checkpoint of the same model as \(a): \(difference); diff compares two checkpoints of one architecture")
            }
            print(json ? diff.json().prettyPrinted() : diff.text())
            status = diff.verdict.exitStatus
        }
        if status != 0 { throw ExitCode(status) }
    }
}
