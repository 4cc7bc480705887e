import CZip
import Foundation
import HDF5
@testable import KerasFile
import XCTest

/// `.keras` archives and new-layout `.weights.h5` files (issue 14): real Keras files read,
/// written back bit for bit, and hostile archives refused with one line.
final class KerasArchiveTests: XCTestCase {
    func testReadsKeras3Archive() throws {
        let model = try KerasModel.load(Fixtures.path("keras3-adam.keras"))
        guard case .keras3(let version) = model.producer else { return XCTFail("\(model.producer)") }
        XCTAssertEqual(version, "3.15.1")
        XCTAssertEqual(model.format, .keras)
        XCTAssertEqual(model.definition?.layers.map(\.className), ["InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Activation"])
        XCTAssertEqual(model.trainableVariables.map(\.name), ["conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias"])
        XCTAssertEqual(model.trainingConfig?.optimizerClass, "Adam")
        XCTAssertEqual(model.trainingConfig?.loss, "binary_crossentropy")
        let state = try XCTUnwrap(model.optimizerState)
        XCTAssertEqual(state.iterations, 2)
        XCTAssertEqual(Set(state.slots.keys), ["m", "v"])
        XCTAssertEqual(state.slots["m"]?.map(\.shape), [[3, 3, 1, 4], [4], [36, 2], [2]])
    }

    func testReadsTFKerasArchiveAndWeightsFiles() throws {
        let tfk = try KerasModel.load(Fixtures.path("tfk-adam.keras"))
        XCTAssertEqual(tfk.producer, .tfKeras(version: "2.21.0"))
        XCTAssertEqual(tfk.optimizerState?.iterations, 2)
        XCTAssertEqual(tfk.trainableVariables.map(\.name), ["conv2d/kernel:0", "conv2d/bias:0", "dense/kernel:0", "dense/bias:0"])
        for name in ["keras3-adam.weights.h5", "tfk-adam.weights.h5"] {
            let weights = try KerasModel.load(Fixtures.path(name))
            XCTAssertNil(weights.definition, name)
            XCTAssertEqual(weights.format, .weightsH5)
            XCTAssertEqual(weights.layerWeights.filter { !$0.weights.isEmpty }.map(\.layerName), ["conv2d", "dense"], name)
            XCTAssertNotNil(weights.positionalOptimizerVars, name)
        }
        // The archive's weights are the weights file's, array for array.
        let archive = try KerasModel.load(Fixtures.path("keras3-adam.keras"))
        let file = try KerasModel.load(Fixtures.path("keras3-adam.weights.h5"))
        XCTAssertEqual(archive.weights(of: "dense"), file.weights(of: "dense"))
    }

    func testSnakeCaseKeysFollowKeras() {
        XCTAssertEqual(WeightsStore.snakeCase("MaxPooling2D"), "max_pooling2d")
        XCTAssertEqual(WeightsStore.snakeCase("InputLayer"), "input_layer")
        XCTAssertEqual(WeightsStore.snakeCase("Conv2D"), "conv2d")
        XCTAssertEqual(WeightsStore.layerKeys(classNames: ["Conv2D", "Conv2D", "Dense", "Conv2D"]), ["conv2d", "conv2d_1", "dense", "conv2d_2"])
    }

    func testAnOptimizerCompiledByNameKeepsItsName() throws {
        // tf-keras's compile_config holds `optimizer="adam"` as given; no class is named "adam".
        let compile = try JSONValue.parse(#"{"optimizer": "adam", "loss": "mse", "metrics": null}"#)
        let training = try TrainingConfig(json: try XCTUnwrap(Keras3Dialect.trainingConfig(fromCompileConfig: compile)))
        XCTAssertEqual(Keras3Dialect.compileConfig(from: training)["optimizer"], .string("adam"))
        let adam = try TrainingConfig(json: try JSONValue.parse(#"{"optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.01}}}"#))
        XCTAssertEqual(Keras3Dialect.compileConfig(from: adam)["optimizer"]?["class_name"], .string("Adam"))
    }

    func testArchivesRoundTripBitForBit() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["keras3-adam.keras", "tfk-adam.keras", "keras3-adam-trained.h5", "tfk-adam-trained.h5"] {
            let original = try KerasModel.load(Fixtures.path(name))
            for output in ["copy.keras", "copy.h5"] {
                let path = directory + "/" + output
                try original.write(to: path)
                let reread = try KerasModel.load(path)
                XCTAssertEqual(reread.layerWeights.map { $0.weights.map(\.values) }, original.layerWeights.map { $0.weights.map(\.values) }, "\(name) -> \(output)")
                XCTAssertEqual(reread.optimizerState, original.optimizerState, "\(name) -> \(output)")
                XCTAssertEqual(reread.kerasVersion, original.kerasVersion, "\(name) -> \(output)")
                XCTAssertEqual(reread.trainingConfig?.optimizerConfig, original.trainingConfig?.optimizerConfig, "\(name) -> \(output)")
            }
        }
    }

    func testPositionalLayoutFollowsEachKerassBuildOrder() throws {
        let vars: [(name: String, shape: [Int])] = [("a", [2]), ("b", [3])]
        let state = OptimizerState(optimizerClass: "SGD", iterations: 5, slots: ["m": [NumericArray(shape: [2], floats: [1, 2]), NumericArray(shape: [3], floats: [3, 4, 5])]])
        let config = JSONValue.object([("learning_rate", .double(0.01)), ("momentum", .double(0))])
        // Keras 3's SGD keeps no momentum slot at momentum 0; tf-keras's always does.
        XCTAssertEqual(try PositionalOptimizerLayout.write(state, config: config, generation: .keras3, variableShapes: vars.map(\.shape)).count, 2)
        let tfk = try PositionalOptimizerLayout.write(state, config: config, generation: .tfKeras, variableShapes: vars.map(\.shape))
        XCTAssertEqual(tfk.count, 3)
        XCTAssertEqual(try PositionalOptimizerLayout.read(tfk, optimizerClass: "SGD", config: config, generation: .tfKeras, variables: vars).state, state)
        XCTAssertThrowsError(try PositionalOptimizerLayout.read(Array(tfk.prefix(2)), optimizerClass: "SGD", config: config, generation: .tfKeras, variables: vars))
        XCTAssertThrowsError(try PositionalOptimizerLayout.slotGroups(optimizerClass: "Ftrl", config: config, generation: .keras3))
    }

    // MARK: Hostile archives: one line each, nothing read

    func testNotAZipIsRefused() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/m.keras"
        try Data("this is no archive".utf8).write(to: URL(fileURLWithPath: path))
        assertRefused(path, "neither an HDF5 file nor a zip archive")
    }

    func testZipWithoutConfigIsRefused() throws {
        let path = try archive(["metadata.json": Data("{}".utf8)])
        assertRefused(path, "without config.json")
    }

    func testPathTraversalIsRefused() throws {
        let config = try zipMember(Fixtures.path("keras3-adam.keras"), "config.json")
        for name in ["../evil.h5", "/etc/evil", "a/../../evil", "C:evil", "a\\..\\evil"] {
            let path = try archive(["config.json": config, name: Data("x".utf8)])
            assertRefused(path, "path traversal")
        }
    }

    func testZipBombIsRefused() throws {
        // A stored member whose headers (local and central) claim 4 GiB for 10 stored bytes.
        let config = try zipMember(Fixtures.path("keras3-adam.keras"), "config.json")
        let path = try archive(["config.json": config, "model.weights.h5": Data(repeating: 0, count: 10)])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let name = Array("model.weights.h5".utf8)
        for (signature, sizeOffset, nameOffset) in [([0x50, 0x4B, 0x03, 0x04] as [UInt8], 22, 30), ([0x50, 0x4B, 0x01, 0x02], 24, 46)] {
            var i = 0
            while i + nameOffset + name.count <= bytes.count {
                if Array(bytes[i..<i + 4]) == signature, Array(bytes[i + nameOffset..<i + nameOffset + name.count]) == name {
                    for k in 0..<4 { bytes[i + sizeOffset + k] = 0xF0 }
                }
                i += 1
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertRefused(path, "zip bomb")
    }

    func testOversizedConfigIsRefused() throws {
        XCTAssertThrowsError(try ZipArchive(path: Fixtures.path("keras3-adam.keras")).read("config.json", limit: 100)) { error in
            XCTAssertTrue("\(error)".contains("more than the 100"), "\(error)")
        }
    }

    func testWeightsNotMatchingTheConfigAreRefused() throws {
        var model = try KerasModel.load(Fixtures.path("keras3-adam.keras"))
        model.layerWeights = model.layerWeights.map { $0.layerName == "dense" ? LayerWeights(layerName: "dense", weights: []) : $0 }
        model.optimizerState = nil
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try model.write(to: directory + "/bad.keras")
        assertRefused(directory + "/bad.keras", "needs 2 weights; the weights file has 0 at layers/dense")
        // The same weights under another config: an extra group no layer claims.
        let store = WeightsStore(layers: [("dense", []), ("dense_7", [NumericArray(shape: [1], floats: [1])])], optimizerVars: nil)
        XCTAssertThrowsError(try KerasModel(archiveConfig: try JSONValue.parse(model.modelConfigJSON!), kerasVersion: "3.15.1", store: store))
    }

    // MARK: Helpers

    private func assertRefused(_ path: String, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try KerasModel.load(path), file: file, line: line) { error in
            XCTAssertTrue(error is KerasFileError, "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), file: file, line: line)
        }
    }

    private func archive(_ members: [String: Data]) throws -> String {
        let path = try Fixtures.temporaryDirectory() + "/m.keras"
        // Written with libzip directly: ZipWriter would be the code under test.
        var code: Int32 = 0
        let zip = try XCTUnwrap(zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code))
        var buffers: [UnsafeMutableRawPointer] = []
        for (name, data) in members.sorted(by: { $0.key < $1.key }) {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 8)
            buffers.append(buffer)
            data.copyBytes(to: buffer.assumingMemoryBound(to: UInt8.self), count: data.count)
            let source = zip_source_buffer(zip, buffer, UInt64(data.count), 0)
            let index = zip_file_add(zip, name, source, ZIP_FL_ENC_UTF_8)
            XCTAssertGreaterThanOrEqual(index, 0)
            zip_set_file_compression(zip, UInt64(index), ZIP_CM_STORE, 0)
        }
        XCTAssertEqual(zip_close(zip), 0)
        buffers.forEach { $0.deallocate() }
        return path
    }

    private func zipMember(_ path: String, _ name: String) throws -> Data {
        try ZipArchive(path: path).read(name, limit: 1 << 20)
    }
}
