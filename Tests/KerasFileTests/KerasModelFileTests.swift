import HDF5
@testable import KerasFile
import XCTest

final class KerasModelFileTests: XCTestCase {
    func testEveryFixtureReads() throws {
        XCTAssertGreaterThan(Fixtures.modelFiles.count, 10)
        for name in Fixtures.modelFiles {
            let model = try KerasModel.load(Fixtures.path(name))
            XCTAssertFalse(model.layerWeights.isEmpty, name)
            if name.contains("weights-only") || name.hasSuffix(".weights.h5") {
                XCTAssertNil(model.definition, name)
            } else {
                XCTAssertNotNil(model.definition, name)
            }
        }
    }

    func testEveryFixtureRoundTripsBitForBit() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in Fixtures.modelFiles {
            let original = try KerasModel.load(Fixtures.path(name))
            let copy = directory + "/" + name
            try original.write(to: copy)
            let reread = try KerasModel.load(copy)
            XCTAssertEqual(reread.modelConfigJSON, original.modelConfigJSON, name)
            XCTAssertEqual(reread.layerWeights, original.layerWeights, name)
            XCTAssertEqual(reread.optimizerState, original.optimizerState, name)
            XCTAssertEqual(reread.kerasVersion, original.kerasVersion, name)
        }
    }

    func testProducersAreRecognised() throws {
        XCTAssertEqual(try KerasModel.load(Fixtures.path("keras22-adam.h5")).producer, .keras2(version: "2.2.4"))
        XCTAssertEqual(try KerasModel.load(Fixtures.path("tfk-adam-trained.h5")).producer, .tfKeras(version: "2.21.0"))
        guard case .keras3 = try KerasModel.load(Fixtures.path("keras3-adam-trained.h5")).producer else {
            return XCTFail("Keras 3 file not recognised")
        }
    }

    func testSeedModelArchitecture() throws {
        let model = try KerasModel.load(Fixtures.path("broken-lines-start.h5"))
        let definition = try XCTUnwrap(model.definition)
        XCTAssertEqual(definition.layers.map(\.className),
                       ["InputLayer", "Activation", "Conv2D", "Conv2D", "MaxPooling2D", "Reshape", "Dense", "Activation"])
        guard case .conv2D(let conv) = definition.layers[2].kind else { return XCTFail("not a conv") }
        XCTAssertEqual(conv.filters, 64)
        XCTAssertEqual(conv.kernelSize.0, 16)
        XCTAssertEqual(conv.dataFormat, .channelsFirst)
        XCTAssertEqual(definition.layers[1].inbound, [TensorRef(layer: definition.layers[0].name)])
        XCTAssertEqual(model.weights(of: definition.layers[3].name).first?.shape, [16, 16, 64, 128])
        XCTAssertEqual(model.trainingConfig?.loss, "binary_crossentropy")
        XCTAssertEqual(model.trainingConfig?.optimizerClass, "Adam")
    }

    func testKeras3DialectParses() throws {
        let model = try KerasModel.load(Fixtures.path("keras3-adam-trained.h5"))
        let definition = try XCTUnwrap(model.definition)
        guard case .input(let shape) = definition.layers[0].kind else { return XCTFail("no input layer") }
        XCTAssertEqual(shape, [nil, 1, 8, 8])
        XCTAssertEqual(definition.layers[1].inbound, [TensorRef(layer: definition.layers[0].name)])
        XCTAssertEqual(definition.outputs.map(\.layer), [definition.layers.last!.name])
        let state = try XCTUnwrap(model.optimizerState)
        XCTAssertEqual(Set(state.slots.keys), ["m", "v"])
        XCTAssertGreaterThan(state.iterations, 0)
    }

    func testKeras22LayoutGivesAdamSlotsInOrder() throws {
        let model = try KerasModel.load(Fixtures.path("keras22-adam.h5"))
        let state = try XCTUnwrap(model.optimizerState)
        XCTAssertEqual(Set(state.slots.keys), ["m", "v"], "vhat placeholders of shape (1,) are not state")
        XCTAssertEqual(state.slots["m"]?.map(\.shape), model.trainableVariables.map(\.shape))
        XCTAssertEqual(model.trainingConfig?.optimizerConfig["lr"]?.doubleValue, 0.0010000000474974513)
    }

    func testTFKerasOptimizerOrderIsPreservedOnWrite() throws {
        for name in ["tfk-adam-trained.h5", "tfk-adam-amsgrad-trained.h5", "tfk-rmsprop-trained.h5", "tfk-sgd-momentum-trained.h5"] {
            let path = Fixtures.path(name)
            let stored = try XCTUnwrap(KerasModelFile.read(path).optimizerWeights)
            let rewritten = try XCTUnwrap(KerasModel.load(path).fileContent().optimizerWeights)
            XCTAssertEqual(rewritten.map(\.name), stored.map(\.name), name)
            XCTAssertEqual(rewritten, stored, name)
        }
    }

    func testSplitLayerNamesAreJoined() throws {
        let path = Fixtures.path("tfk-many-layers.h5")
        let file = try File.open(path)
        XCTAssertFalse(file.root.hasAttribute("layer_names"))
        let weights = try file.root.group("model_weights")
        XCTAssertNil(try weights.attribute("layer_names"))
        XCTAssertNotNil(try weights.attribute("layer_names1"))
        let model = try KerasModel.load(path)
        XCTAssertEqual(model.layerWeights.count, model.definition?.layers.count)
    }

    /// A tf-keras model with BatchNormalization(renorm=True) (7 weights: renorm_mean and
    /// renorm_stddev, moving_stddev beside the usual four) then an LSTM (a class Relapse does
    /// not compute), trained once by Adam. `renorm`: false leaves the same 7 weights with no
    /// refusal to explain them.
    private func refusedLayersFile(renorm: Bool) -> KerasModelFile {
        let bn = renorm ? #""renorm": true, "renorm_clipping": {}, "renorm_momentum": 0.99"# : #""renorm": false"#
        let config = #"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
               "config": {"name": "in", "batch_input_shape": [null, 6, 2], "dtype": "float32", "sparse": false, "ragged": false}},
              {"class_name": "BatchNormalization", "name": "bn", "inbound_nodes": [[["in", 0, 0, {}]]],
               "config": {"name": "bn", "axis": [2], \#(bn)}},
              {"class_name": "LSTM", "name": "lstm", "inbound_nodes": [[["bn", 0, 0, {}]]],
               "config": {"name": "lstm", "units": 3}}],
             "input_layers": [["in", 0, 0]], "output_layers": [["lstm", 0, 0]]}}
            """#
        let vector = NumericArray(shape: [2], floats: [1, 1])
        let bnWeights = ["gamma", "beta", "moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev"]
        let lstmWeights = [("kernel", [2, 12]), ("recurrent_kernel", [3, 12]), ("bias", [12])].map { name, shape in
            NamedArray(name: "lstm/lstm_cell/\(name):0", values: NumericArray(shape: shape, floats: Array(repeating: 0.1, count: shape.reduce(1, *))))
        }
        let training = #"{"loss": "mse", "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.001}}}"#
        // Adam's slots for what tf-keras trains: gamma, beta and the LSTM's three.
        let slots = ["m", "v"].flatMap { slot in
            ["bn/gamma", "bn/beta"].map { NamedArray(name: "Adam/\(slot)/\($0):0", values: vector) }
                + lstmWeights.map { NamedArray(name: "Adam/\(slot)/\($0.name)", values: $0.values) }
        }
        return KerasModelFile(
            kerasVersion: "2.21.0", backend: "tensorflow", modelConfigJSON: config, trainingConfigJSON: training,
            layerWeights: [LayerWeights(layerName: "bn", weights: bnWeights.map { NamedArray(name: "bn/\($0):0", values: vector) }),
                           LayerWeights(layerName: "lstm", weights: lstmWeights)],
            optimizerWeights: [NamedArray(name: "iteration:0", values: NumericArray(shape: [], int64s: [4]))] + slots)
    }

    /// A refused class or setting can bring weights Relapse does not know; the file must still
    /// load, so that training stops on the refusals by name (and `inspect` lists them), not on
    /// "layer 'bn' has 7 weights" or "'lstm', which is not a layer of the model".
    func testRefusedLayersWeightsDoNotHideTheirRefusals() throws {
        let model = try KerasModel(file: refusedLayersFile(renorm: true))
        let keys = model.definition?.refusals.map { "\($0.scope) \($0.key)" } ?? []
        XCTAssertTrue(keys.contains("layer 'bn' (BatchNormalization) renorm"), "\(keys)")
        XCTAssertTrue(keys.contains("layer 'lstm' (LSTM) class_name"), "\(keys)")
        // Unrefused, the same 7 weights are the file's error.
        XCTAssertThrowsError(try KerasModel(file: refusedLayersFile(renorm: false))) { error in
            XCTAssertTrue("\(error)".contains("layer 'bn' has 7 weights in the file"), "\(error)")
        }
    }

    func testWeightsOnlyFileIsRefusedWhereAModelIsNeeded() {
        XCTAssertThrowsError(try KerasModel.loadFullModel(Fixtures.path("tfk-weights-only.h5"))) { error in
            XCTAssertTrue("\(error)".contains("weights-only"), "\(error)")
        }
    }
}
