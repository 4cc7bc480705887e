/// How a loss reduces its per-sample values to the one number `fit` reports and minimises.
///
/// tf-keras (`tf_keras/src/engine/compile_utils.py`, `LossesContainer.__call__`) and Keras 3
/// (`keras/src/trainers/compile_utils.py`, `keras/src/losses/loss.py` `reduce_values`) both
/// differentiate the reduced batch loss and feed it, weighted by the batch size, into the `Mean`
/// that becomes the epoch's `loss`; `Epoch.trainEpoch` does the same with `LossEvaluation.mean`.
/// Keras's `none` (and Keras 3's `None`) is refused when parsing: `fit` then differentiates the
/// sum of a vector but averages it into the epoch loss with per-element weights, a pair no
/// single per-batch number reproduces.
public enum LossReduction: String, Codable, Sendable {
    /// Keras's `sum_over_batch_size`, tf-keras's `auto`, Keras 3's `mean` and (there being no
    /// sample weights) `mean_with_sample_weight`: the mean over the batch.
    case sumOverBatchSize = "sum_over_batch_size"
    /// The sum over the batch.
    case sum

    /// The reduction a Keras config value names; nil for `none`, null and anything unknown.
    public init?(kerasName: String) {
        switch kerasName {
        case "auto", "sum_over_batch_size", "mean", "mean_with_sample_weight": self = .sumOverBatchSize
        case "sum": self = .sum
        default: return nil
        }
    }
}
