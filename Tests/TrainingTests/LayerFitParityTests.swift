import Foundation
import HDF5
import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// One epoch of real Keras `fit` on a CNN with every layer of issue 13's family
/// (fixtures/layers-fit-*.h5, made by tools/layer_reference.py): Normalization (adapted),
/// Rescaling, Conv2D + BatchNormalization(axis=1) + ReLU(max_value=6) channels first, Conv2D +
/// BatchNormalization + LeakyReLU channels last, a frozen BatchNormalization, ELU, Dense(swish),
/// BatchNormalization on 2-D, PReLU, Dense(gelu), Activation(selu), Dense(softmax); Adam 1e-2,
/// categorical crossentropy, batch 64, no shuffling. Loss, every weight (moving statistics
/// included) and `predict` after the epoch are compared with Keras's.
final class LayerFitParityTests: XCTestCase {
    func assertOneEpochMatchesKeras(_ tag: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try KerasModel.loadFullModel(KerasParityTests.fixture("layers-fit-\(tag)-start.h5"))
        let trainingConfig = try XCTUnwrap(model.trainingConfig)
        let loss = try XCTUnwrap(Loss.parse(trainingConfig: trainingConfig.json).loss)
        let network = try Network(model: model)
        // The optimizer sees gamma, beta, kernels, biases, PReLU's alpha: no moving statistics,
        // nothing of the frozen layer, nothing of Normalization.
        XCTAssertEqual(network.trainableVariables.map(\.shape), model.trainableVariables.map(\.shape), file: file, line: line)
        XCTAssertFalse(network.trainableVariables.contains { $0.weightName.hasPrefix("moving_") || $0.layerName == "normalization" },
                       file: file, line: line)
        let trainer = Trainer(network: network, optimizer: try Optimizer(trainingConfig: trainingConfig, flavor: OptimizerFlavor(producer: model.producer)),
                              loss: loss, semantics: LossSemantics(producer: model.producer, backend: model.backend))
        let dataFile = try File.open(KerasParityTests.fixture("train-data.h5"))
        let data = try Training.Dataset(x: Tensor(try dataFile.root.dataset("x").read()), y: Tensor(try dataFile.root.dataset("y").read()),
                                        source: .hdf5(path: KerasParityTests.fixture("train-data.h5")))
            .validated(modelInputShape: network.inputShape, labels: .values(width: 2))
        let result = try trainer.trainEpoch(data, order: Array(0..<data.count), batchSize: 64)

        let after = KerasParityTests.fixture("layers-fit-\(tag)-after.h5")
        let expected = try KerasModel.loadFullModel(after)
        let attributes = try File.open(after).root
        let referenceLoss = try XCTUnwrap(attributes.attribute("reference_epoch_loss")?.numberList?.first)
        XCTAssertEqual(result.loss, referenceLoss, accuracy: abs(referenceLoss) * 1e-5, "epoch loss", file: file, line: line)
        for (parameter, name) in zip(trainer.network.parameters, trainer.network.parameterNames) {
            let position = try XCTUnwrap(expected.definition?.layer(named: name.layer)?.weightNames.firstIndex(of: name.weight))
            let reference = Tensor(expected.weights(of: name.layer)[position])
            let difference = zip(parameter.data, reference.data).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let norm = reference.data.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            XCTAssertLessThanOrEqual(difference / max(norm, 1e-12), 1e-4, "\(name.layer)/\(name.weight)", file: file, line: line)
        }
        // predict after the epoch (moving statistics, frozen layer in inference mode).
        let predicted = try network.forward(Tensor(shape: [8, 1, 8, 8], data: Array(data.x.data[0..<(8 * 64)])), training: false)
        let reference = try XCTUnwrap(attributes.attribute("reference_predict")?.numberList)
        let worst = zip(predicted.data, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4, "predict after the epoch", file: file, line: line)
    }

    func testTFKerasLayerFamilyEpoch() throws { try assertOneEpochMatchesKeras("tfk") }
    func testKeras3LayerFamilyEpoch() throws { try assertOneEpochMatchesKeras("k3") }
}
