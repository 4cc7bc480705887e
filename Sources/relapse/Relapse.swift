import ArgumentParser
import CCleanup
import Foundation
import HDF5
import KerasFile
import Network
import Training

@main
struct Relapse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load, train, resume and diagnose Keras models whose training fell apart.",
        subcommands: [Inspect.self, Resave.self, Convert.self, Train.self, Resume.self, Predict.self, MakeData.self, Diff.self, Scan.self, Replay.self, Bisect.self])
}

/// Runs a command body; any failure becomes one line on stderr and exit status 2, so bad
/// input never shows a stack trace. Every command runs in it.
func reportingFailures(_ body: () throws -> Void) throws {
    // Progress goes out a line at a time whatever stdout is (a file, a pipe): a redirected
    // log shows each epoch as it ends, and a kill loses at most the line being written.
    relapse_stdout_line_buffered()
    // A crash inside libhdf5 on a corrupt file is answered like any bad input; and a file-size
    // limit (ulimit -f) makes a write fail with EFBIG, reported, instead of killing us.
    CrashGuard.install(prefix: "relapse: error: ")
    signal(SIGXFSZ, SIG_IGN)
    // SIGINT, SIGTERM, SIGHUP, SIGQUIT remove the temporary file being written, then end us.
    relapse_cleanup_install()
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
