import Foundation
import HDF5
import KerasFile
import Kernels
import Network
@testable import Training
import XCTest

/// One epoch of real Keras `fit` with loss options a bare name would lose
/// (fixtures/loss-fit-*.h5, made by tools/make_loss_references.py): the loss is read from the
/// file's training_config, trained on train-data.h5 (batch 64, no shuffling), and the epoch
/// loss and weights compared with Keras's.
final class LossFitParityTests: XCTestCase {
    func assertOneEpochMatchesKeras(_ tag: String, sparse: Bool, expectedLoss: Loss,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try KerasModel.loadFullModel(KerasParityTests.fixture("loss-fit-\(tag)-start.h5"))
        let trainingConfig = try XCTUnwrap(model.trainingConfig)
        let parsed = Loss.parse(trainingConfig: trainingConfig.json)
        XCTAssertEqual(parsed.refusals, [], file: file, line: line)
        let loss = try XCTUnwrap(parsed.loss)
        XCTAssertEqual(loss, expectedLoss, file: file, line: line)
        let network = try Network(model: model)
        let trainer = Trainer(network: network, optimizer: try Optimizer(trainingConfig: trainingConfig, flavor: OptimizerFlavor(producer: model.producer)),
                              loss: loss, semantics: LossSemantics(producer: model.producer, backend: model.backend))
        let dataFile = try File.open(KerasParityTests.fixture("train-data.h5"))
        var data = Training.Dataset(x: Tensor(try dataFile.root.dataset("x").read()), y: Tensor(try dataFile.root.dataset("y").read()),
                                    source: .hdf5(path: KerasParityTests.fixture("train-data.h5")))
        if sparse {
            // Class indices of shape (n,), as Keras was given them.
            let width = data.y.shape[1]
            data.y = Tensor(shape: [data.count], data: (0..<data.count).map { r in
                let row = data.y.data[(r * width)..<((r + 1) * width)]
                return Float(row.firstIndex(of: row.max()!)! - r * width)
            })
        }
        data = try data.validated(modelInputShape: network.inputShape,
                                  labels: loss.takesClassIndices ? LabelKind.classIndices(classes: 2) : .values(width: 2))
        let result = try trainer.trainEpoch(data, order: Array(0..<data.count), batchSize: 64)

        let after = KerasParityTests.fixture("loss-fit-\(tag)-after.h5")
        let expected = try KerasModel.loadFullModel(after)
        let referenceLoss = try XCTUnwrap(File.open(after).root.attribute("reference_epoch_loss")?.numberList?.first)
        XCTAssertEqual(result.loss, referenceLoss, accuracy: abs(referenceLoss) * 1e-5, "epoch loss", file: file, line: line)
        for (parameter, name) in zip(trainer.network.parameters, trainer.network.parameterNames) {
            let position = try XCTUnwrap(expected.definition?.layer(named: name.layer)?.weightNames.firstIndex(of: name.weight))
            let reference = Tensor(expected.weights(of: name.layer)[position])
            let difference = zip(parameter.data, reference.data).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let norm = reference.data.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            XCTAssertLessThanOrEqual(difference / max(norm, 1e-12), 1e-5, "\(name.layer)/\(name.weight)", file: file, line: line)
        }
    }

    /// tf-keras: linear output, CategoricalCrossentropy(from_logits=True, label_smoothing=0.1,
    /// reduction="sum"), loss_weights [0.5]. Keras's epoch loss 21.9617.
    func testTFKerasCategoricalFromLogitsSmoothingSumWeighted() throws {
        try assertOneEpochMatchesKeras("tfk-cce-logits", sparse: false,
                                       expectedLoss: Loss(.categoricalCrossentropy, fromLogits: true, labelSmoothing: 0.1, reduction: .sum, weight: 0.5))
    }

    /// Keras 3 (TensorFlow): softmax output, sparse_categorical_crossentropy on (n,) class
    /// indices, loss_weights 2. Keras's epoch loss 1.36474.
    func testKeras3SparseCategoricalWeighted() throws {
        try assertOneEpochMatchesKeras("k3-sparse", sparse: true, expectedLoss: Loss(.sparseCategoricalCrossentropy, weight: 2))
    }
}
