import ArgumentParser
import Foundation
import HDF5

@main
struct Relapse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load, train, resume and diagnose Keras models whose training fell apart.",
        subcommands: [Inspect.self, Resave.self, Train.self, Resume.self, Predict.self, MakeData.self, Diff.self, Scan.self])
}

/// Runs a command body; any failure becomes one line on stderr and exit status 2, so bad
/// input never shows a stack trace.
func reportingFailures(_ body: () throws -> Void) throws {
    // A crash inside libhdf5 on a corrupt file is answered like any bad input; and a file-size
    // limit (ulimit -f) makes a write fail with EFBIG, reported, instead of killing us.
    CrashGuard.install(prefix: "relapse: error: ")
    signal(SIGXFSZ, SIG_IGN)
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("relapse: error: \(error)\n".utf8))
        throw ExitCode(2)
    }
}
