import Foundation
import Kernels

/// Relapse's own training state, stored in each checkpoint beside the Keras model (in a group
/// Keras never reads): everything needed to continue as if the run had never stopped.
public struct RunState: Codable, Equatable, Sendable {
    public static let currentFormat = 1

    public var format = RunState.currentFormat
    /// The last finished epoch (1-based, as the checkpoint's file name).
    public var epoch: Int
    /// Optimizer steps taken in this run so far.
    public var globalStep: Int64
    /// xoshiro256** states, as 16-digit hex words (JSON numbers would lose 64-bit precision).
    public var shuffleGenerator: [String]
    public var dropoutGenerator: [String]
    public var seed: UInt64
    /// The training data's source (`DataSourceDescription.dictionary`) and fingerprint.
    public var data: [String: String]
    public var dataFingerprint: String
    public var validation: Validation
    public var batchSize: Int
    public var shuffle: Bool
    /// The loss with its options and weight (older checkpoints: just its name, read as defaults),
    /// or each output's for a model with several (`ModelLoss`'s coding).
    public var loss: ModelLoss
    public var lossSemantics: String
    /// The quantity `best.h5` tracks ("val_loss", else "loss") and its best value so far.
    public var bestMonitor: String
    public var bestValue: Double?
    public var bestEpoch: Int?
    public var history: [HistoryRow]
    /// Hyperparameter changes made on resume, with the first epoch they applied to.
    public var changes: [Change]
    /// Layer state outside Keras's file (`Network.layerState`: Keras 2.2 BatchNormalization's
    /// zero-debiasing averages); absent when there is none.
    public var layerState: [String: [String]]? = nil
    /// Batches passed over without a step (`--skip-batches A:B`), as inclusive ranges of global
    /// batch numbers: epoch e's batch b is (e - 1) x batches per epoch + b. Absent in older checkpoints.
    public var skipBatches: [[Int64]]?
    /// `direct` when every convolution runs im2col + GEMM (`--convolution direct`); absent: the fastest.
    public var convolution: String?

    /// Whether global batch `number` is to be skipped.
    public func skips(batch number: Int64) -> Bool {
        skipBatches?.contains { $0.count == 2 && $0[0] <= number && number <= $0[1] } ?? false
    }

    public struct Validation: Codable, Equatable, Sendable {
        public var split: Double?
        public var data: [String: String]?
        public init(split: Double? = nil, data: [String: String]? = nil) {
            self.split = split
            self.data = data
        }
    }

    public struct Change: Codable, Equatable, Sendable {
        public var epoch: Int
        public var change: String
        public init(epoch: Int, change: String) {
            self.epoch = epoch
            self.change = change
        }
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A diverged run's history holds NaN/Inf losses; plain JSON cannot, so they become strings.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func parse(_ text: String) throws -> RunState {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let state = try decoder.decode(RunState.self, from: Data(text.utf8))
        guard state.format <= currentFormat else {
            throw RunSetupError("was written by a newer Relapse (state format \(state.format))")
        }
        // Counts a run could have reached: an epoch of 2^63 - 1 trapped at the next epoch.
        guard state.epoch >= 0, state.epoch < TrainingRun.maxEpoch, state.globalStep >= 0, state.globalStep <= 1 << 53 else {
            throw RunSetupError("records epoch \(state.epoch) and step \(state.globalStep), out of range (epochs 0 to \(TrainingRun.maxEpoch - 1), steps 0 to 2^53)")
        }
        guard state.batchSize > 0 else { throw RunSetupError("records a batch size of \(state.batchSize); it must be positive") }
        return state
    }
}

/// One epoch's line in `history.csv`.
public struct HistoryRow: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Column name to value, e.g. "loss", "accuracy", "val_loss", "grad_norm".
    public var values: [String: Double]

    public init(epoch: Int, values: [String: Double]) {
        self.epoch = epoch
        self.values = values
    }
}

extension SeededGenerator {
    var hexState: [String] { state.map { String(format: "%016llx", $0) } }

    init(hexState: [String], what: String) throws {
        let words = hexState.compactMap { UInt64($0, radix: 16) }
        guard words.count == hexState.count, let generator = SeededGenerator(state: words) else {
            throw RunSetupError("the recorded \(what) generator state is unreadable")
        }
        self = generator
    }
}
