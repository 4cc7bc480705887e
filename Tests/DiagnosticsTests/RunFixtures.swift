import Foundation
import HDF5
import KerasFile
import Training
import XCTest

/// Real checkpoints made by a short Relapse run, and doctored copies of them (edited through
/// Relapse's own Keras file reader and writer, as one would with h5py).
enum RunFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> String { root.appendingPathComponent("fixtures/\(name)").path }

    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("relapse-diag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// The small channels_first CNN (Adam, binary cross-entropy) on 256 images, batch 64.
    static func options(validationSplit: Double? = 0.25, batchSize: Int = 64) -> TrainingOptions {
        var options = TrainingOptions()
        options.data = .hdf5(path: fixture("train-data.h5"))
        options.validationSplit = validationSplit
        options.batchSize = batchSize
        options.seed = 3
        return options
    }

    @discardableResult
    static func train(_ epochs: Int, into directory: String, model: String = fixture("train-start-adam.h5"),
                      options: TrainingOptions = RunFixtures.options(), stopOnNonFinite: Bool = false) throws -> TrainingRun.Summary {
        let run = try RunSetup.start(modelPath: model, options: options)
        return try run.run(epochs: epochs, directory: directory, stopOnNonFinite: stopOnNonFinite, shouldStop: { false })
    }

    /// Copies `source` to `destination` with one weight edited (`layer`'s weight number `index`).
    static func doctor(_ source: String, to destination: String, layer: String, index: Int = 0,
                       dropRelapseState: Bool = false, _ edit: (inout [Float]) -> Void) throws {
        var file = try KerasModelFile.read(source)
        let g = try XCTUnwrap(file.layerWeights.firstIndex { $0.layerName == layer }, "no layer \(layer)")
        var values = file.layerWeights[g].weights[index].values.floats()
        edit(&values)
        file.layerWeights[g].weights[index].values = NumericArray(shape: file.layerWeights[g].weights[index].values.shape, floats: values)
        if dropRelapseState { file.relapseState = nil }
        try file.write(to: destination)
    }

    static func copy(_ source: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }
}
