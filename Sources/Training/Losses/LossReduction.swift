/// How a loss reduces its per-sample values to the one number `fit` reports and minimises.
///
/// tf-keras (`tf_keras/src/engine/compile_utils.py`, `LossesContainer.__call__`) and Keras 3
/// (`keras/src/trainers/compile_utils.py`, `keras/src/losses/loss.py` `reduce_values`) both
/// differentiate the reduced batch loss and feed it, weighted by the batch size, into the `Mean`
/// that becomes the epoch's `loss`; `Epoch.trainEpoch` does the same with `LossEvaluation.mean`.
/// Keras's `none` (Keras 3's `None`, written null): `fit` differentiates the sum of the per-sample
/// vector and feeds the vector itself into the epoch's `Mean`: tf-keras with each element
/// weighted by the batch size (`sample_weight=batch_dim` broadcast), so the epoch loss is
/// sum_b n_b * sum_i l_bi / sum_b n_b^2; Keras 3 unweighted, the plain per-sample mean.
/// `LossEvaluation.mean` is then the batch's per-sample mean and `Trainer` gives each batch
/// the weight its Keras's `Mean` gives it (`BatchResult.reportWeight`).
public enum LossReduction: String, Codable, Sendable {
    /// Keras's `sum_over_batch_size`, tf-keras's `auto`, Keras 3's `mean` and (there being no
    /// sample weights) `mean_with_sample_weight`: the mean over the batch.
    case sumOverBatchSize = "sum_over_batch_size"
    /// The sum over the batch.
    case sum
    /// No reduction: the gradient of the sum, the per-sample values into the epoch's mean.
    case none

    /// The reduction a Keras config value names; nil for anything unknown.
    public init?(kerasName: String) {
        switch kerasName {
        case "auto", "sum_over_batch_size", "mean", "mean_with_sample_weight": self = .sumOverBatchSize
        case "sum": self = .sum
        case "none": self = .none
        default: return nil
        }
    }
}
