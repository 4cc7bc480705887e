import Foundation
import HDF5
import KerasFile
import XCTest

final class InspectResaveTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testInspectShowsLayersWeightsAndOptimizer() throws {
        let result = try Relapse.run(["inspect", Relapse.fixture("tfk-adam-trained.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("tf.keras 2.21.0"))
        XCTAssertTrue(result.stdout.contains("Conv2D"))
        XCTAssertTrue(result.stdout.contains("(4, 6, 6)"), "channels_first conv output shape")
        XCTAssertTrue(result.stdout.contains("Optimizer state: Adam, iterations 4, slots: m (4), v (4)"), result.stdout)
    }

    func testInspectOfALoneWeightsFileShowsItsOptimizerVariables() throws {
        // Without the model's config the slots cannot be named; count, iterations and shapes can.
        let keras3 = try Relapse.run(["inspect", Relapse.fixture("keras3-adam.weights.h5")])
        XCTAssertEqual(keras3.status, 0, keras3.stderr)
        XCTAssertTrue(keras3.stdout.contains("Optimizer state: 10 variables by position (optimizer 'adam', iterations 2)"), keras3.stdout)
        XCTAssertTrue(keras3.stdout.contains("shapes: () int64, () float32, (3, 3, 1, 4) float32 x2, (4,) float32 x2, (36, 2) float32 x2, (2,) float32 x2"), keras3.stdout)
        let tfk = try Relapse.run(["inspect", Relapse.fixture("tfk-adam.weights.h5")])
        XCTAssertTrue(tfk.stdout.contains("Optimizer state: 9 variables by position (iterations 2)"), tfk.stdout)
        let json = try JSONValue.parse(try Relapse.run(["inspect", "--json", Relapse.fixture("keras3-adam.weights.h5")]).stdout)
        XCTAssertEqual(json["optimizer_variables"]?["count"]?.intValue, 10)
        XCTAssertEqual(json["optimizer_variables"]?["iterations"]?.intValue, 2)
        XCTAssertEqual(json["optimizer_variables"]?["shapes"]?[2], .array([.int(3), .int(3), .int(1), .int(4)]))
        // The name survives a resave of the weights file.
        let copy = directory + "/copy.weights.h5"
        XCTAssertEqual(try Relapse.run(["resave", Relapse.fixture("keras3-adam.weights.h5"), copy]).status, 0)
        XCTAssertTrue(try Relapse.run(["inspect", copy]).stdout.contains("(optimizer 'adam', iterations 2)"))
    }

    func testInspectJSONIsOneObject() throws {
        let result = try Relapse.run(["inspect", "--json", Relapse.fixture("broken-lines-start.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try JSONValue.parse(result.stdout)
        XCTAssertEqual(json["parameters"]?.intValue, 2_113_986)
        XCTAssertEqual(json["layers"]?.arrayValue?.count, 8)
        XCTAssertEqual(json["layers"]?[2]?["output_shape"], .array([.int(64), .int(17), .int(17)]))
        XCTAssertEqual(json["weights"]?[0]?["nan"]?.intValue, 0)
    }

    func testResaveRoundTripsTheSeedModel() throws {
        let output = directory + "/seed.h5"
        let result = try Relapse.run(["resave", Relapse.fixture("broken-lines-start.h5"), output])
        XCTAssertEqual(result.status, 0, result.stderr)
        let original = try KerasModel.load(Relapse.fixture("broken-lines-start.h5"))
        let copy = try KerasModel.load(output)
        XCTAssertEqual(copy.modelConfigJSON, original.modelConfigJSON)
        XCTAssertEqual(copy.layerWeights, original.layerWeights)
    }

    // MARK: Bad input: one line naming the file, exit status 2, no output left behind

    func assertRefused(_ input: String, mentions phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let output = directory + "/out.h5"
        let result = try Relapse.run(["resave", input, output])
        XCTAssertEqual(result.status, 2, "exit status", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(input), "names the file: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(phrase), "says '\(phrase)': \(result.stderr)", file: file, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("out") || $0.hasPrefix(".out") }, [],
                       "no output file", file: file, line: line)
        let inspect = try Relapse.run(["inspect", input])
        XCTAssertEqual(inspect.status, 2, "inspect refuses too", file: file, line: line)
    }

    func testNotHDF5() throws {
        let path = directory + "/notes.h5"
        try "just text\n".write(toFile: path, atomically: true, encoding: .utf8)
        try assertRefused(path, mentions: "is not an HDF5 file")
    }

    func testMissingFileAndDirectory() throws {
        try assertRefused(directory + "/absent.h5", mentions: "no such file")
        try assertRefused(directory, mentions: "is a directory")
    }

    func testInvalidJSON() throws {
        let path = try doctor { $0.modelConfigJSON = "{\"class_name\": \"Functional\", " }
        try assertRefused(path, mentions: "model_config is not valid JSON")
    }

    func testUnknownLayerClass() throws {
        let path = try doctor { $0.modelConfigJSON = $0.modelConfigJSON!.replacingOccurrences(of: "\"MaxPooling2D\"", with: "\"FancyPooling\"") }
        let output = directory + "/out.h5"
        let result = try Relapse.run(["resave", path, output])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("class_name = \"FancyPooling\" is not a layer Relapse computes"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testWeightShapeContradictsConfig() throws {
        let path = try doctor { file in
            let index = file.layerWeights.firstIndex { $0.layerName == "dense" }!
            file.layerWeights[index].weights[0].values = NumericArray(shape: [35, 2], floats: [Float](repeating: 0, count: 70))
        }
        try assertRefused(path, mentions: "dense")
    }

    /// A copy of the Adam fixture with one thing changed, written through Relapse's raw layer.
    /// Issue 12: inspect lists every setting that stops training, at once; train refuses on the
    /// first with one line naming the file, the layer, the key and its value, and writes nothing.
    func testInspectListsEveryRefusalAndTrainRefusesByName() throws {
        let path = try doctor { file in
            file.modelConfigJSON = file.modelConfigJSON!
                .replacingOccurrences(of: "\"use_bias\": true", with: "\"use_bias\": true, \"mystery\": 7")
                .replacingOccurrences(of: "\"dtype\": \"float32\"", with: "\"dtype\": \"float64\"")
        }
        let inspect = try Relapse.run(["inspect", path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("layer 'conv2d' (Conv2D): mystery = 7 is not supported"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("layer 'dense' (Dense): mystery = 7 is not supported"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("dtype = \"float64\" is not supported (Relapse computes in float32)"), inspect.stdout)
        let json = try Relapse.run(["inspect", path, "--json"])
        let refusals = try JSONValue.parse(json.stdout)["refusals"]?.arrayValue ?? []
        XCTAssertGreaterThanOrEqual(refusals.count, 3)
        XCTAssertTrue(refusals.contains { $0["key"] == .string("mystery") && $0["value"] == .int(7) && $0["scope"] == .string("layer 'dense' (Dense)") })

        let run = directory + "/run"
        let train = try Relapse.run(["train", path, "--epochs", "1", "--synthetic", "64", "--checkpoints", run])
        XCTAssertEqual(train.status, 2, train.stderr)
        XCTAssertEqual(train.stderr.split(separator: "\n").count, 1, train.stderr)
        XCTAssertTrue(train.stderr.hasPrefix("relapse: error: \(path): layer '"), train.stderr)
        XCTAssertTrue(train.stderr.contains("relapse inspect lists them"), train.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run))
    }

    private func doctor(_ change: (inout KerasModelFile) -> Void) throws -> String {
        var file = try KerasModelFile.read(Relapse.fixture("tfk-adam-trained.h5"))
        change(&file)
        let path = directory + "/doctored-\(UUID().uuidString.prefix(8)).h5"
        try file.write(to: path)
        return path
    }
}
