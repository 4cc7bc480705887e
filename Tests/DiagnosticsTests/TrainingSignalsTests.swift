import Diagnostics
import Foundation
import KerasFile
import Kernels
@testable import Training
import XCTest

/// The per-epoch signals `history.csv` records while training, and `--stop-on-nan`.
final class TrainingSignalsTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try RunFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func history() throws -> [HistoryRow] {
        RunHistory.parse(try String(contentsOfFile: directory + "/history.csv", encoding: .utf8))
    }

    func testHistoryHasTheSignalColumns() throws {
        try RunFixtures.train(2, into: directory)
        let header = try String(contentsOfFile: directory + "/history.csv", encoding: .utf8).split(separator: "\n")[0]
        XCTAssertEqual(header, "epoch,accuracy,adam_eps_dominated,adam_max_update_ratio,adam_sqrt_vhat_p1,adam_update_rms,"
                       + "adam_update_rms_max,chance_loss,dead_fraction/conv2d,dead_fraction_max,grad_norm,grad_norm/conv2d,"
                       + "grad_norm/dense,grad_norm_first_kernel,grad_norm_last_kernel,grad_norm_max,loss,norm/conv2d,norm/dense,"
                       + "saturated_fraction,update_ratio/conv2d,update_ratio/dense,val_accuracy,val_loss,weight_norm")
        for row in try history() {
            XCTAssertEqual(row.values["saturated_fraction"], 0, "an untrained model predicts near 0.5")
            XCTAssertGreaterThanOrEqual(row.values["grad_norm_max"]!, row.values["grad_norm"]!)
        }
    }

    /// One batch per epoch and no shuffling: the epoch's gradient norm is the norm of the
    /// gradient at the starting weights, which a step taken by hand reproduces.
    func testGradientNormIsTheRawGradientsNorm() throws {
        var options = RunFixtures.options(validationSplit: nil, batchSize: 256)
        options.shuffle = false
        try RunFixtures.train(1, into: directory, options: options)
        let recorded = try XCTUnwrap(try history().first?.values["grad_norm"])

        let run = try RunSetup.start(modelPath: RunFixtures.fixture("train-start-adam.h5"), options: options)
        var (x, y) = run.training.makeBatchTensors(batchSize: 256)
        run.training.batch(indices: 0..<256, x: &x, y: &y)
        try run.trainer.step(x: x, y: y)
        let expected = run.trainer.network.gradients.flatMap(\.data).map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        XCTAssertEqual(recorded, expected, accuracy: expected * 1e-12)
        XCTAssertEqual(try history().first?.values["grad_norm_max"], recorded)
    }

    /// One batch per epoch: the per-layer gradient norms, update ratios and Adam's update RMS
    /// of the one step, recomputed by hand from the same step.
    func testPerLayerSignalsOfOneStep() throws {
        var options = RunFixtures.options(validationSplit: nil, batchSize: 256)
        options.shuffle = false
        try RunFixtures.train(1, into: directory, options: options)
        let row = try XCTUnwrap(try history().first?.values)

        let run = try RunSetup.start(modelPath: RunFixtures.fixture("train-start-adam.h5"), options: options)
        var (x, y) = run.training.makeBatchTensors(batchSize: 256)
        run.training.batch(indices: 0..<256, x: &x, y: &y)
        let before = run.trainer.network.trainableVariables.map(\.value.data)
        try run.trainer.step(x: x, y: y)
        let variables = run.trainer.network.trainableVariables
        func squares(_ values: [Float]) -> Double { values.map { Double($0) * Double($0) }.reduce(0, +) }
        for layer in ["conv2d", "dense"] {
            let indices = variables.indices.filter { variables[$0].layerName == layer }
            let gradient = indices.map { squares(variables[$0].gradient.data) }.reduce(0, +).squareRoot()
            XCTAssertEqual(try XCTUnwrap(row["grad_norm/" + layer]), gradient, accuracy: gradient * 1e-12)
            let delta = indices.map { i in squares(zip(variables[i].value.data, before[i]).map { $0 - $1 }) }.reduce(0, +)
            let weight = indices.map { squares(before[$0]) }.reduce(0, +)
            let ratio = (delta / weight).squareRoot()
            // Summed in float32 lanes of eight (BatchSignals.updateSquares), Double across them.
            XCTAssertEqual(try XCTUnwrap(row["update_ratio/" + layer]), ratio, accuracy: ratio * 1e-6)
        }
        let first = squares(variables[0].gradient.data).squareRoot(), last = squares(variables[2].gradient.data).squareRoot()
        XCTAssertEqual(try XCTUnwrap(row["grad_norm_first_kernel"]), first, accuracy: first * 1e-12)
        XCTAssertEqual(try XCTUnwrap(row["grad_norm_last_kernel"]), last, accuracy: last * 1e-12)
        // After the first step v_hat = g^2, so g^2 / max(v_hat, eps^2) is 1 wherever |g| >= eps.
        XCTAssertEqual(try XCTUnwrap(row["adam_update_rms"]), 1, accuracy: 1e-3)
        XCTAssertEqual(row["adam_update_rms_max"], row["adam_update_rms"], "one step: the mean is the largest")
        let share = try XCTUnwrap(row["dead_fraction/conv2d"])
        XCTAssertTrue(share >= 0 && share <= 1)
        XCTAssertEqual(row["dead_fraction_max"], share, "the only ReLU layer")
    }

    func testDeadUnitsAreThoseNeverPositive() {
        // Two samples, four units: unit 0 positive once, unit 1 never (0 and -1), unit 2 never, unit 3 always.
        let output = Tensor(shape: [2, 4], data: [1, 0, -2, 3, -1, -1, 0, 2])
        XCTAssertEqual(DeadUnits.share(output), 0.5)
    }

    /// The reference batch runs in chunks of a training batch: units alive in any chunk are
    /// alive, as over the whole batch at once. A NaN is not positive.
    func testDeadUnitsOverChunksAreThoseOfTheWholeBatch() {
        let whole = Tensor(shape: [3, 4], data: [1, 0, -2, .nan, -1, -1, 0, -3, -5, 0, 0, 2])
        var alive: [UInt8] = []
        DeadUnits.markAlive(Tensor(shape: [2, 4], data: [1, 0, -2, .nan, -1, -1, 0, -3]), in: &alive)
        XCTAssertEqual(DeadUnits.share(alive: alive), 0.75)
        DeadUnits.markAlive(Tensor(shape: [1, 4], data: [-5, 0, 0, 2]), in: &alive)
        XCTAssertEqual(DeadUnits.share(alive: alive), 0.5)
        XCTAssertEqual(DeadUnits.share(whole), 0.5)
    }

    func testChanceLossIsTheLossOfPredictingTheLabelMean() {
        // Labels 3:1 over two classes: the constant prediction (0.75, 0.25) has binary cross-entropy
        // -(0.75 log 0.75 + 0.25 log 0.25), the entropy of the label distribution.
        let labels = Tensor(shape: [4, 2], data: [1, 0, 1, 0, 1, 0, 0, 1])
        let chance = try? XCTUnwrap(ChanceLoss.of(Loss(.binaryCrossentropy), semantics: .tfKeras, labels: labels, outputWidth: 2))
        let entropy = -(0.75 * log(0.75) + 0.25 * log(0.25))
        XCTAssertEqual(chance ?? 0, entropy, accuracy: 1e-6)
        XCTAssertNil(ChanceLoss.of(Loss(.binaryCrossentropy, fromLogits: true), semantics: .tfKeras, labels: labels, outputWidth: 2))
    }

    func testSaturatedOutputsAreCounted() throws {
        let values: [Float] = [0.5, 0.5, 1e-8, 1 - 1e-8, 0.99999988, 1.2e-7]
        values.withUnsafeBufferPointer { p in
            XCTAssertFalse(Saturation.isSaturated(UnsafeBufferPointer(rebasing: p[0..<2])))
            XCTAssertTrue(Saturation.isSaturated(UnsafeBufferPointer(rebasing: p[2..<4])))
            XCTAssertTrue(Saturation.isSaturated(UnsafeBufferPointer(rebasing: p[4..<5])), "on the clip counts")
            XCTAssertFalse(Saturation.isSaturated(UnsafeBufferPointer(rebasing: p[5..<6])))
        }
        // A dense kernel x1e4 pushes every softmax output onto the clip.
        let model = directory + "/saturated.h5"
        try RunFixtures.doctor(RunFixtures.fixture("train-start-adam.h5"), to: model, layer: "dense") { $0 = $0.map { $0 * 1e4 } }
        try RunFixtures.train(1, into: directory + "/run", model: model)
        let rows = RunHistory.parse(try String(contentsOfFile: directory + "/run/history.csv", encoding: .utf8))
        XCTAssertGreaterThan(try XCTUnwrap(rows.first?.values["saturated_fraction"]), 0.9)
    }

    func testAdamSignalsFollowTheFormula() throws {
        let correction = try XCTUnwrap(AdamSignals.Correction(beta1: 0.9, beta2: 0.999, epsilon: 1e-7, iterations: 10))
        let m: [Float] = [0.01, -0.2, 0], v: [Float] = [1e-4, 1e-2, 0]
        let signals = AdamSignals(m: m, v: v, correction: correction)
        let mScale = 1 / (1 - pow(0.9, 10.0)), vScale = 1 / (1 - pow(0.999, 10.0))
        let ratios = zip(m, v).map { abs(Double($0) * mScale) / ((Double($1) * vScale).squareRoot() + 1e-7) }
        XCTAssertEqual(signals.maxUpdateRatio, ratios.max()!, accuracy: 1e-12)
        XCTAssertEqual(signals.minSqrtVHat, 0)
        XCTAssertTrue(AdamSignals(m: [.nan], v: [1], correction: correction).maxUpdateRatio.isNaN)
        XCTAssertNil(AdamSignals.Correction(beta1: 0.9, beta2: 0.999, epsilon: 1e-7, iterations: 0))

        var generator = SeededGenerator(seed: 5)
        let values = (0..<1001).map { _ in generator.nextUnitFloat() }
        let p1 = AdamSignals.sqrtVHatPercentile([Array(values[..<500]), Array(values[500...])], percentile: 1, correction: correction)
        XCTAssertEqual(p1, (Double(values.sorted()[10]) * vScale).squareRoot(), accuracy: 1e-12)
    }

    /// Without --stop-on-nan a diverged run goes on: its NaN losses must not stop the
    /// checkpoints (JSON has no NaN; the recorded history writes it as a string).
    func testNaNLossWithoutStopKeepsTraining() throws {
        let model = directory + "/nan.h5"
        try RunFixtures.doctor(RunFixtures.fixture("train-start-adam.h5"), to: model, layer: "conv2d") { $0[0] = .nan }
        let summary = try RunFixtures.train(2, into: directory + "/run", model: model)
        XCTAssertEqual(summary.epochsDone, 2)
        XCTAssertEqual(summary.nonFinite?.epoch, 1)
        XCTAssertEqual(summary.nonFinite?.batch, 1)
        let resumed = try RunSetup.resume(checkpointPath: directory + "/run/epoch-0002.h5", options: TrainingOptions())
        XCTAssertTrue(try XCTUnwrap(resumed.state.history.first?.values["loss"]).isNaN)
        XCTAssertEqual(try RunScan(directory: directory + "/run").firstNaNEpoch, 1)
    }

    /// Two healthy epochs, then a resume from a copy with a NaN in a kernel: the run stops after
    /// the first batch, keeps both checkpoints, and leaves the bad state in its own file.
    func testStopOnNaNKeepsCheckpointsAndSavesTheBadBatch() throws {
        try RunFixtures.train(2, into: directory)
        let doctored = directory + "/../" + UUID().uuidString + ".h5"
        defer { try? FileManager.default.removeItem(atPath: doctored) }
        try RunFixtures.doctor(directory + "/epoch-0002.h5", to: doctored, layer: "conv2d") { $0[0] = .nan }
        let run = try RunSetup.resume(checkpointPath: doctored, options: TrainingOptions())
        let summary = try run.run(epochs: 3, directory: directory, stopOnNonFinite: true, shouldStop: { false })
        XCTAssertEqual(summary.nonFinite?.epoch, 3)
        XCTAssertEqual(summary.nonFinite?.batch, 1)
        XCTAssertFalse(summary.interrupted)
        XCTAssertEqual(summary.epochsDone, 0)
        XCTAssertEqual(summary.stoppedState, directory + "/epoch-0003-nan-batch-0001.h5")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("epoch-") }.sorted()
        XCTAssertEqual(files, ["epoch-0001.h5", "epoch-0002.h5", "epoch-0003-nan-batch-0001.h5"])
        let stopped = try CheckpointTensors(path: directory + "/epoch-0003-nan-batch-0001.h5")
        XCTAssertNil(stopped.model.relapseState, "not a checkpoint to resume from")
        XCTAssertEqual(stopped.iterations, 6 + 1, "the state right after the bad batch")

        let scan = try RunScan(directory: directory)
        XCTAssertEqual(scan.firstNaNEpoch, 3)
        XCTAssertEqual(scan.lastHealthy?.epoch, 2)
    }
}
