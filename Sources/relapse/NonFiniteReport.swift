import Training

/// What `--stop-on-nan` (and a run without it) says about the first NaN/Inf loss: where it
/// happened, which checkpoints are left, and the file to diff against the last good one.
func nonFiniteReport(epoch: Int, batch: Int, summary: TrainingRun.Summary, stopped: Bool) -> String {
    var line = "the loss was NaN or infinite first at epoch \(epoch), batch \(batch)"
    guard stopped else { return line + " (training went on; --stop-on-nan stops there)" }
    if let state = summary.stoppedState {
        line += "; stopped after that batch. Every checkpoint is kept"
        line += summary.lastCheckpoint.map { ", the last complete one is \($0)" } ?? " (this run completed none)"
        line += "; the state after the bad batch is in \(state)"
        if let last = summary.lastCheckpoint { line += " (compare: relapse diff \(last) \(state))" }
    } else {
        line += ", the epoch's last batch; stopped after saving it"
        line += summary.lastCheckpoint.map { " as \($0)" } ?? ""
    }
    return line
}
