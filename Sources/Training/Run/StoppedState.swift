import Foundation
import KerasFile

extension TrainingRun {
    /// `epoch-0007-nan-batch-0012.h5`: the weights and optimizer state right after the batch
    /// whose loss was NaN/Inf, for `relapse diff` against the last good checkpoint. Its epoch
    /// never finished, so it carries no Relapse state and nobody resumes from it by accident.
    func saveStoppedState(epoch: Int, batch: Int, directory: String) throws -> String {
        var model = try Checkpoint.model(template: template, trainer: trainer, state: state, loss: state.loss)
        model.relapseState = nil
        let path = directory + "/" + Self.stoppedStateName(epoch: epoch, batch: batch, format: checkpointFormat)
        try model.write(to: path)
        return path
    }

    public static func stoppedStateName(epoch: Int, batch: Int, format: ModelFileFormat = .h5) -> String {
        "epoch-" + String(format: "%04d", epoch) + "-nan-batch-" + String(format: "%04d", batch) + "." + format.fileExtension
    }
}
