import HDF5
import KerasFile
import Training

/// A checkpoint read for diagnosis: its trainable weights in Keras's order, the optimizer's
/// slots beside them, and what Adam's bias correction needs. Any producer's layout.
public struct CheckpointTensors: Sendable {
    public struct Weight: Sendable {
        public var layer: String
        /// The stored name (`conv2d/kernel:0`, or Keras 3's `conv2d/vars/0`).
        public var name: String
        public var values: NumericArray
    }

    public var path: String
    public var model: KerasModel
    public var weights: [Weight]
    /// Optimizer slots by kind (`m`, `v`, `vhat`, `velocity`, ...), one per weight.
    public var slots: [String: [NumericArray]]
    public var optimizerClass: String?
    public var iterations: Int64?
    /// Present for Adam with at least one step taken.
    public var adamCorrection: AdamSignals.Correction?

    public init(path: String) throws {
        self.path = path
        model = try KerasModel.load(path)
        weights = model.layerWeights.flatMap { group in
            group.weights.map { Weight(layer: group.layerName, name: $0.name, values: $0.values) }
        }
        slots = model.optimizerState?.slots ?? [:]
        optimizerClass = model.optimizerState?.optimizerClass ?? model.trainingConfig?.optimizerClass
        iterations = model.optimizerState?.iterations
        if let state = model.optimizerState, ["adam", "adamw"].contains(state.optimizerClass.lowercased()) {
            let config = model.trainingConfig?.optimizerConfig
            func setting(_ key: String, _ fallback: Double) -> Double { config?[key]?.doubleValue ?? fallback }
            // Keras 2.2 writes epsilon as null when it means K.epsilon(), 1e-7 like the others' default.
            adamCorrection = AdamSignals.Correction(beta1: setting("beta_1", 0.9), beta2: setting("beta_2", 0.999),
                                                    epsilon: setting("epsilon", 1e-7), iterations: state.iterations)
        }
    }

    /// Adam's signals for weight `index`, from its m and the second moment the update divides by.
    public func adamSignals(forWeight index: Int) -> AdamSignals? {
        guard let correction = adamCorrection, let m = slots["m"]?[index], let v = secondMoments?[index] else { return nil }
        return AdamSignals(m: m.floats(), v: v.floats(), correction: correction)
    }

    /// 1st percentile of sqrt(v_hat) over all weights (as `history.csv`'s `adam_sqrt_vhat_p1`).
    public var sqrtVHatP1: Double? {
        guard let correction = adamCorrection, let vs = secondMoments else { return nil }
        return AdamSignals.sqrtVHatPercentile(vs.map { $0.floats() }, percentile: 1, correction: correction)
    }

    /// `vhat` under amsgrad (the update divides by the running maximum), else `v`.
    private var secondMoments: [NumericArray]? {
        if let vhat = slots["vhat"], let v = slots["v"], vhat.map(\.shape) == v.map(\.shape) { return vhat }
        return slots["v"]
    }

    /// The run history Relapse recorded in the checkpoint, if it is a Relapse checkpoint.
    public var recordedHistory: [HistoryRow]? {
        guard let text = model.relapseState, let state = try? RunState.parse(text) else { return nil }
        return state.history
    }
}
