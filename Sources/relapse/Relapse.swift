import ArgumentParser
import Foundation
import HDF5
import KerasFile
import Network
import Training

@main
struct Relapse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load, train, resume and diagnose Keras models whose training fell apart.",
        subcommands: [Inspect.self, Resave.self, Convert.self, Train.self, Resume.self, Predict.self, MakeData.self, Diff.self, Scan.self])
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

/// The network of a file that has an architecture (nil for a weights-only file), which checks
/// every weight's shape against the config; errors name the file.
func checkedNetwork(of model: KerasModel, in path: String) throws -> Network? {
    guard model.definition != nil else { return nil }
    return try RunSetup.withFile(path) { try Network(model: model) }
}
