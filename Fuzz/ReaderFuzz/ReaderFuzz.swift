// A libFuzzer target over Relapse's readers: the input bytes, written to a private temporary
// file, go through what `inspect` and `train --data` do with a file (KerasModel.load in any
// format, Network(model:) which checks every weight against the config and sizes the graph,
// the model report, and Dataset.hdf5). An error thrown is a pass; a crash, a hang or an
// allocation over libFuzzer's limit is a finding. docs/RELIABILITY.md, "Fuzzing", says how
// to build and run it:
//
//   swift build --product relapse-fuzz --scratch-path .build-fuzz \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -DRELAPSE_FUZZ -Xswiftc -parse-as-library
//   .build-fuzz/debug/relapse-fuzz -rss_limit_mb=3072 -malloc_limit_mb=1200 CORPUS fixtures/
//
// Built without RELAPSE_FUZZ (as `swift build` does) it is a replayer: `relapse-fuzz FILE...`
// runs each file through the same function and prints what happened, so a finding can be
// reproduced without the fuzzer.
import Budget
import Diagnostics
import Foundation
import KerasFile
import Network
import Training

/// The fuzzer's budget: what the readers may plan to allocate for one input (libFuzzer's
/// -malloc_limit_mb is set a little above it, so anything planned past it is a finding).
let fuzzBudget = 1 << 30

nonisolated(unsafe) var temporaryPath: String = {
    let path = NSTemporaryDirectory() + "/relapse-fuzz-\(getpid()).bin"
    return path
}()

/// One input: written whole to the temporary file, read as a model and as a data file.
func exercise(_ bytes: UnsafeRawBufferPointer) -> String {
    MemoryBudget.bytes = fuzzBudget
    let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(temporaryPath)") }
    if let base = bytes.baseAddress, bytes.count > 0 { _ = write(fd, base, bytes.count) }
    close(fd)
    var outcome: [String] = []
    do {
        let model = try KerasModel.load(temporaryPath)
        if model.definition != nil {
            let network = try RunSetup.withFile(temporaryPath) { try Network(model: model) }
            _ = network.inputShape
        }
        let report = try ModelReport(path: temporaryPath, model: model, refusals: ModelReport.refusals(of: model))
        outcome.append("model: \(report.layers.count) layers")
    } catch {
        outcome.append("model refused: \(error)")
    }
    do {
        let data = try Dataset.hdf5(path: temporaryPath)
        outcome.append("data: \(data.count) samples")
    } catch {
        outcome.append("data refused: \(error)")
    }
    return outcome.joined(separator: "; ")
}

#if RELAPSE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = exercise(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's `main` to `<module>_main`; this one hands over to libFuzzer.
@_cdecl("relapse_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOne(data, size) }
}
#else
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read"); continue
            }
            let line = data.withUnsafeBytes { exercise($0) }
            print("\(path): \(line)")
        }
        unlink(temporaryPath)
    }
}
#endif
