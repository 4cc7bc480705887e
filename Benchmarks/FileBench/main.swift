// Times, in process, what tools/bench_keras.py times for tf-keras: loading a model file into a
// runnable network with its weights (tf-keras: load_model), and writing a checkpoint with its
// optimizer state (tf-keras: model.save to h5). One untimed warm-up load first, as for tf-keras.
// Prints "relapse load_ms X" / "relapse save_ms X" lines.
//
//   swift run -c release file-bench MODEL.h5 CHECKPOINT.h5 REPEATS
import Foundation
import KerasFile
import Network

let arguments = CommandLine.arguments
guard arguments.count == 4, let repeats = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: file-bench MODEL.h5 CHECKPOINT.h5 REPEATS\n".utf8))
    exit(2)
}

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

func load(_ path: String) throws -> KerasModel {
    let model = try KerasModel(file: KerasModelFile.read(path))
    _ = try Network(model: model)
    return model
}

do {
    _ = try load(arguments[1])
    for _ in 0..<repeats {
        print(String(format: "relapse load_ms %.1f", try milliseconds { _ = try load(arguments[1]) }))
    }
    let checkpoint = try load(arguments[2])
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("file-bench-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for _ in 0..<repeats {
        let path = directory.appendingPathComponent("saved.h5").path
        print(String(format: "relapse save_ms %.1f", try milliseconds { try checkpoint.write(to: path) }))
    }
} catch {
    FileHandle.standardError.write(Data("file-bench: \(error)\n".utf8))
    exit(2)
}
