import Foundation
import HDF5
@testable import KerasFile
import XCTest

/// The new saving library's HDF5 layout with models used as layers (issue 14): a nested model's
/// layers under `layers/<its key>/layers/<key>`, read from and written to the paths Keras 3 and
/// tf-keras use (fixtures/keras3-nested.keras, fixtures/tfk-nested.keras: a functional model
/// calling a Sequential twice that holds a functional model, BatchNormalization and Dense).
final class WeightsStoreTests: XCTestCase {
    static let nestedFixtures = ["keras3-nested.keras", "tfk-nested.keras"]

    /// The paths Keras wrote, below `layers/`, with their number of variables.
    static let kerasPaths: [(String, Int)] = [
        ("input_layer", 0), ("sequential", 0), ("sequential/layers/functional", 0),
        ("sequential/layers/functional/layers/input_layer", 0), ("sequential/layers/functional/layers/dense", 2),
        ("sequential/layers/functional/layers/dense_1", 2), ("sequential/layers/batch_normalization", 4),
        ("sequential/layers/dense", 2), ("add", 0), ("dense", 2),
    ]

    func testKeyedLayersFollowTheSavingLibrarysWalk() throws {
        let model = try KerasModel.load(Fixtures.path("keras3-nested.keras"))
        let keyed = WeightsStore.keyedLayers(try XCTUnwrap(model.definition).savedLayers)
        XCTAssertEqual(keyed.map(\.key), Self.kerasPaths.map(\.0))
        XCTAssertEqual(keyed.map(\.entry.name), ["input_layer_2", "block", "inner", "input_layer", "inner_in", "inner_out",
                                                   "block_bn", "block_out", "sum", "head"])
    }

    func testNestedModelsAreReadFromBothKerassFiles() throws {
        for name in Self.nestedFixtures {
            let model = try KerasModel.load(Fixtures.path(name))
            let store = try Self.store(of: Fixtures.path(name))
            XCTAssertEqual(Set(store.layers.map(\.key)), Set(Self.kerasPaths.map(\.0)), name)
            for (key, count) in Self.kerasPaths {
                XCTAssertEqual(store.layers.first { $0.key == key }?.vars.count, count, "\(name): \(key)")
            }
            // The nested model is one group, as the legacy h5 keeps it: trainable weights in
            // layer order, then the moving statistics.
            XCTAssertEqual(model.layerWeights.map(\.layerName), [model.definition!.savedLayers[0].name, "block", "sum", "head"], name)
            let block = try XCTUnwrap(model.layerWeights.first { $0.layerName == "block" })
            XCTAssertEqual(block.weights.map { OptimizerLayout.stripSuffix($0.name) },
                           ["inner_in/kernel", "inner_in/bias", "inner_out/kernel", "inner_out/bias", "block_bn/gamma", "block_bn/beta",
                            "block_out/kernel", "block_out/bias", "block_bn/moving_mean", "block_bn/moving_variance"], name)
            let bn = try XCTUnwrap(store.layers.first { $0.key == "sequential/layers/batch_normalization" })
            XCTAssertEqual(model.weightsByLayer["block_bn"], bn.vars, name)
            // Keras's trainable_weights order (depth first), which orders the optimizer's slots.
            XCTAssertEqual(model.trainableVariables.map(\.shape), [[6, 5], [5], [5, 5], [5], [5], [5], [5, 6], [6], [6, 2], [2]], name)
            let state = try XCTUnwrap(model.optimizerState, name)
            XCTAssertEqual(state.iterations, 2, name)
            XCTAssertEqual(state.slots["m"]?.map(\.shape), model.trainableVariables.map(\.shape), name)
            XCTAssertEqual(state.slots["v"]?.map(\.shape), model.trainableVariables.map(\.shape), name)
        }
    }

    func testNestedModelsAreWrittenAtKerassPathsBitForBit() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in Self.nestedFixtures {
            let original = try KerasModel.load(Fixtures.path(name))
            let theirs = try Self.store(of: Fixtures.path(name))
            for output in ["copy.keras", "copy.weights.h5"] {
                let path = directory + "/" + output
                try original.write(to: path)
                let ours = try Self.store(of: path)
                XCTAssertEqual(ours.layers.map(\.key).sorted(), theirs.layers.map(\.key).sorted(), "\(name) -> \(output)")
                for (key, vars) in theirs.layers {
                    XCTAssertEqual(ours.layers.first { $0.key == key }?.vars, vars, "\(name) -> \(output): \(key)")
                }
                XCTAssertEqual(ours.optimizerVars, theirs.optimizerVars, "\(name) -> \(output)")
            }
            try original.write(to: directory + "/copy.h5")
            for output in ["copy.keras", "copy.h5"] {
                let reread = try KerasModel.load(directory + "/" + output)
                XCTAssertEqual(reread.layerWeights, original.layerWeights, "\(name) -> \(output)")
                XCTAssertEqual(reread.optimizerState, original.optimizerState, "\(name) -> \(output)")
            }
            // A weights file alone keeps the nested paths through a round trip.
            let weights = try KerasModel.load(directory + "/copy.weights.h5")
            XCTAssertNil(weights.definition)
            XCTAssertTrue(weights.layerWeights.contains { $0.layerName == "sequential/layers/functional/layers/dense_1" }, name)
            try weights.write(to: directory + "/again.weights.h5")
            let again = try Self.store(of: directory + "/again.weights.h5")
            XCTAssertEqual(again.layers.map(\.key), try Self.store(of: directory + "/copy.weights.h5").layers.map(\.key))
        }
    }

    func testNestedWeightsNotMatchingTheConfigAreRefused() throws {
        let model = try KerasModel.load(Fixtures.path("keras3-nested.keras"))
        let config = try JSONValue.parse(try XCTUnwrap(model.modelConfigJSON))
        let complete = try Self.store(of: Fixtures.path("keras3-nested.keras"))
        func refusal(_ edit: (inout [(key: String, vars: [NumericArray])]) -> Void) -> String {
            var layers = complete.layers
            edit(&layers)
            let store = WeightsStore(layers: layers, optimizerVars: nil)
            do {
                _ = try KerasModel(archiveConfig: config, kerasVersion: "3.15.1", store: store)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(refusal { _ in }, "accepted")
        let scalar = NumericArray(shape: [1], floats: [1])
        XCTAssertTrue(refusal { $0.removeAll { $0.key == "sequential/layers/functional/layers/dense_1" } }
            .contains("layer 'inner_out' (Dense) needs 2 weights; the weights file has 0 at layers/sequential/layers/functional/layers/dense_1"))
        XCTAssertTrue(refusal { $0 = $0.map { $0.key == "sequential" ? ($0.key, [scalar]) : $0 } }
            .contains("nested model 'block' (Sequential) has 1 variables of its own at layers/sequential"))
        XCTAssertTrue(refusal { $0.append(("sequential/layers/dense_1", [scalar])) }
            .contains("1 weights at layers/sequential/layers/dense_1, which is no layer of config.json"))
    }

    func testHostileNestingIsRefused() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Models nested 40 deep (or hard links looping): refused at 32, not followed.
        let deep = directory + "/deep.weights.h5"
        do {
            let file = try File.create(deep)
            var group = try file.root.createGroup("layers")
            for _ in 0..<40 { group = try group.createGroup("sequential").createGroup("layers") }
            try file.flush()
        }
        XCTAssertThrowsError(try KerasModel.load(deep)) { error in
            XCTAssertTrue("\(error)".contains("nests models more than 32 deep"), "\(error)")
        }
        // Data in a layer group that is neither its vars nor a nested model's layers.
        let stray = directory + "/stray.weights.h5"
        do {
            let file = try File.create(stray)
            let layer = try file.root.createGroup("layers").createGroup("dense")
            _ = try layer.createGroup("vars")
            try layer.createGroup("extra").createDataset("0", values: NumericArray(shape: [1], floats: [1]))
            try file.flush()
        }
        XCTAssertThrowsError(try KerasModel.load(stray)) { error in
            XCTAssertTrue("\(error)".contains("layer group 'layers/dense' has weights in 'extra'"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    // MARK: Helpers

    /// The weights store of a `.keras` archive or a `.weights.h5` file, as stored.
    static func store(of path: String) throws -> WeightsStore {
        guard path.hasSuffix(".keras") else { return try WeightsStore.read(try File.open(path).root, path: path) }
        let folder = AtomicFile.systemTemporaryFolder
        return try AtomicFile.withScratchFile(in: folder, for: "test.weights.h5", path: path) { temporary, descriptor in
            try ZipArchive(path: path).extract(KerasArchive.weightsMember, to: descriptor, folder: folder)
            return try WeightsStore.read(try File.open(temporary).root, path: path)
        }
    }
}
