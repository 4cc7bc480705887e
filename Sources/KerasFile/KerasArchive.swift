import Foundation
import HDF5

/// Which of Keras's file formats a model is read from or written to.
public enum ModelFileFormat: String, Sendable, CaseIterable {
    /// The legacy HDF5 layout (`model.save("m.h5")`, `save_weights("w.h5")`).
    case h5
    /// Keras 3's zip (`model.save("m.keras")`): metadata.json, config.json, model.weights.h5.
    case keras
    /// The new saving library's weights file (`save_weights("w.weights.h5")`).
    case weightsH5 = "weights.h5"

    /// The format a file name asks for: `.keras`, `.weights.h5`, else the legacy `.h5`.
    public init(outputPath path: String) {
        if path.hasSuffix(".keras") { self = .keras }
        else if path.hasSuffix(".weights.h5") { self = .weightsH5 }
        else { self = .h5 }
    }

    /// The checkpoint file extension.
    public var fileExtension: String { self == .keras ? "keras" : rawValue }
}

/// Reads and writes Keras 3's `.keras` zip and the new-layout `.weights.h5`, following
/// `keras/src/saving/saving_lib.py`: `config.json` is the model's `serialize_keras_object`
/// with a `compile_config` (optimizer, loss, metrics), `metadata.json` holds the Keras
/// version, and the weights and optimizer variables are in a `WeightsStore`.
///
/// Reading, the HDF5 member is copied to a private scratch file in the system temp folder that
/// is unlinked as soon as libhdf5 has it open: the archive is never held in memory, and only a
/// SIGKILL during the copy can leave it (docs/ARCHITECTURE.md has the measurement). Writing,
/// the member is a scratch file beside the output and `ZipWriter` writes the archive straight
/// into the output's own temporary file: every file a write makes is one the signal handlers know.
public enum KerasArchive {
    static let jsonLimit: UInt64 = 64 << 20
    static let configMember = "config.json"
    static let metadataMember = "metadata.json"
    static let weightsMember = "model.weights.h5"

    // MARK: Reading

    static func read(_ path: String) throws -> KerasModel {
        let archive = try ZipArchive(path: path)
        guard archive.member(configMember) != nil else {
            throw KerasFileError(path, "is a zip archive without config.json: not a Keras model (.keras)")
        }
        let configText = try text(archive, configMember)
        let config: JSONValue
        do { config = try JSONValue.parse(configText) } catch {
            throw KerasFileError(path, "config.json is not valid JSON (\(error))")
        }
        var version: String? = nil
        if archive.member(metadataMember) != nil,
           let metadata = try? JSONValue.parse(try text(archive, metadataMember)) {
            version = metadata["keras_version"]?.stringValue
        }
        guard archive.member(weightsMember) != nil else {
            if archive.member("model.weights.npz") != nil {
                throw KerasFileError(path, "holds its weights as model.weights.npz (weights_format='npz'), which Relapse does not read")
            }
            throw KerasFileError(path, "has no model.weights.h5 in the archive")
        }
        let store = try withExtractedWeights(archive, path: path) { try WeightsStore.read($0.root, path: path) }
        do {
            return try KerasModel(archiveConfig: config, kerasVersion: version, store: store)
        } catch let error as KerasFileError {
            throw error
        } catch {
            throw KerasFileError(path, "\(error)")
        }
    }

    private static func text(_ archive: ZipArchive, _ name: String) throws -> String {
        guard let text = String(data: try archive.read(name, limit: jsonLimit), encoding: .utf8) else {
            throw KerasFileError(archive.path, "\(name) is not UTF-8 text")
        }
        return text
    }

    /// Runs `body` on the archive's HDF5 member, streamed to a scratch file in the system's
    /// temporary folder that is unlinked as soon as libhdf5 has it open.
    private static func withExtractedWeights<T>(_ archive: ZipArchive, path: String, _ body: (File) throws -> T) throws -> T {
        let folder = AtomicFile.systemTemporaryFolder
        return try AtomicFile.withScratchFile(in: folder, for: "relapse-" + weightsMember, path: path) { temporary, descriptor in
            try archive.extract(weightsMember, to: descriptor, folder: folder)
            guard File.isHDF5(temporary) else { throw KerasFileError(path, "model.weights.h5 in the archive is not an HDF5 file") }
            let file: File
            do { file = try File.open(temporary) } catch {
                throw KerasFileError(path, "model.weights.h5 in the archive cannot be opened (\(error))")
            }
            // The open handle keeps the data; the name goes now, so nothing outlives us.
            unlink(temporary)
            do { return try body(file) } catch let error as KerasFileError { throw error } catch {
                throw KerasFileError(path, "model.weights.h5: \(error)")
            }
        }
    }

    /// A new-layout `.weights.h5` (no architecture).
    static func readWeightsFile(_ path: String) throws -> KerasModel {
        let store: WeightsStore
        do {
            store = try WeightsStore.read(try File.open(path).root, path: path)
        } catch let error as KerasFileError { throw error } catch {
            throw KerasFileError(path, "\(error)")
        }
        return KerasModel(weightsStore: store)
    }

    // MARK: Writing

    /// Writes `model` as a `.keras` archive, atomically.
    static func write(_ model: KerasModel, to path: String) throws {
        let (config, store) = try archiveContent(model, path: path)
        let metadata = JSONValue.object([
            ("keras_version", .string(model.kerasVersion ?? Keras3Dialect.version)),
            ("date_saved", .string(Self.dateSaved())),
        ])
        // The HDF5 member is a scratch file beside the output, marked and registered like the
        // archive's own temporary: a signal removes both, a later run's sweep any a SIGKILL left.
        let url = URL(fileURLWithPath: path)
        try AtomicFile.write(to: path) { temporary in
            try AtomicFile.withScratchFile(in: url.deletingLastPathComponent().path, for: url.lastPathComponent + ".weights.h5",
                                           path: path) { weights, _ in
                try store.write(toNewFile: weights)
                try ZipWriter.write(to: temporary, members: [
                    (metadataMember, .data(Data(metadata.serialized().utf8))),
                    (configMember, .data(Data(config.serialized().utf8))),
                    (weightsMember, .file(weights)),
                ])
            }
        }
    }

    /// Writes the new-layout weights file (`save_weights("x.weights.h5")`), atomically.
    static func writeWeightsFile(_ model: KerasModel, to path: String) throws {
        let store = try weightsStore(model, path: path)
        try AtomicFile.write(to: path) { temporary in try store.write(toNewFile: temporary) }
    }

    static func archiveContent(_ model: KerasModel, path: String) throws -> (JSONValue, WeightsStore) {
        guard model.definition != nil, let modelConfigJSON = model.modelConfigJSON else {
            throw KerasFileError(path, "a weights-only model cannot be written as .keras (write a .weights.h5)")
        }
        if case .keras2 = model.producer {
            throw KerasFileError(path, "Keras \(model.kerasVersion ?? "2.x") has no .keras format; `relapse convert` makes a Keras 3 .keras of this model")
        }
        var config: JSONValue
        do { config = try JSONValue.parse(modelConfigJSON) } catch {
            throw KerasFileError(path, "model_config is not valid JSON (\(error))")
        }
        if config["module"] == nil, case .object(let pairs) = config {
            // tf-keras's serialize_keras_object names the class's module and registration,
            // without which its .keras loader cannot find Functional.
            let className = config["class_name"]?.stringValue
            let module: JSONValue = className == "Functional" ? .string("tf_keras.src.engine.functional") : .string("keras")
            let registered: JSONValue = className == "Functional" ? .string("Functional") : .null
            config = .object([("module", module)] + pairs.filter { $0.0 != "module" && $0.0 != "registered_name" }
                             + [("registered_name", registered)])
        }
        if let training = model.trainingConfig {
            config.set("compile_config", Keras3Dialect.compileConfig(from: training))
        }
        return (config, try weightsStore(model, path: path))
    }

    static func weightsStore(_ model: KerasModel, path: String) throws -> WeightsStore {
        let generation: PositionalOptimizerLayout.Generation
        switch model.producer {
        case .keras3: generation = .keras3
        case .tfKeras, .unknown: generation = .tfKeras
        case .keras2:
            throw KerasFileError(path, "Keras \(model.kerasVersion ?? "2.x") has no .weights.h5 format; `relapse convert` makes a Keras 3 file of this model")
        }
        var layers: [(key: String, vars: [NumericArray])] = []
        var names: [String: String] = [:]
        if let definition = model.definition {
            // Each layer's weights under its key, nested models' layers under theirs; a nested
            // model's own entry holds no variables (its vars group carries its name, as Keras's).
            let byLayer = model.weightsByLayer
            for (key, entry) in WeightsStore.keyedLayers(definition.savedLayers) {
                if case .layer = entry { layers.append((key, byLayer[entry.name] ?? [])) } else { layers.append((key, [])) }
                names[key] = entry.name
            }
        } else {
            layers = model.layerWeights.map { ($0.layerName, $0.weights.map(\.values)) }
        }
        var optimizerVars: [NumericArray]? = nil
        var optimizerName: String? = nil
        if let state = model.optimizerState, let training = model.trainingConfig {
            do {
                optimizerVars = try PositionalOptimizerLayout.write(state, config: training.optimizerConfig, generation: generation,
                                                                   variableShapes: model.trainableVariables.map(\.shape))
            } catch {
                throw KerasFileError(path, "\(error)")
            }
            if generation == .keras3 { optimizerName = training.optimizerConfig["name"]?.stringValue }
        } else if let raw = model.positionalOptimizerVars {
            optimizerVars = raw
            optimizerName = model.positionalOptimizerName
        }
        var store = WeightsStore(layers: layers, optimizerVars: optimizerVars, optimizerName: optimizerName,
                                 relapseState: model.relapseState)
        store.layerNames = names
        return store
    }

    static func dateSaved() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        return formatter.string(from: Date())
    }
}
