import Foundation

/// Receives a run's progress; the CLI picks a terminal or a plain-lines reporter.
public protocol ProgressReporter: AnyObject {
    func epochStarted(_ epoch: Int, last: Int)
    func batchFinished(_ progress: BatchProgress, elapsed: Double)
    func epochFinished(_ row: HistoryRow, seconds: Double, checkpoint: String?)
    func note(_ message: String)
}

/// Keras-like output: on a terminal a progress line redrawn after each batch (batches done,
/// ETA, running loss); otherwise one line per epoch.
public final class ConsoleReporter: ProgressReporter {
    let interactive: Bool
    private var lastDraw = 0.0

    public init(interactive: Bool = isatty(STDOUT_FILENO) != 0) {
        self.interactive = interactive
    }

    public func epochStarted(_ epoch: Int, last: Int) {
        if interactive { print("Epoch \(epoch)/\(last)") }
    }

    public func batchFinished(_ progress: BatchProgress, elapsed: Double) {
        guard interactive else { return }
        // Redraw at most ten times a second, and always after the last batch.
        guard elapsed - lastDraw >= 0.1 || progress.batch == progress.batches else { return }
        lastDraw = elapsed
        let width = 30
        let done = progress.batch * width / max(progress.batches, 1)
        let bar = String(repeating: "=", count: max(done - 1, 0)) + (done < width ? ">" : "=")
            + String(repeating: ".", count: width - done)
        let eta = elapsed / Double(progress.batch) * Double(progress.batches - progress.batch)
        let etaText = progress.batch < progress.batches ? " - ETA: \(Int(eta.rounded()))s" : ""
        let text = "\(progress.batch)/\(progress.batches) [\(bar)]\(etaText) - loss: \(String(format: "%.4f", progress.runningLoss))"
        FileHandle.standardOutput.write(Data(("\r" + text + "\u{1B}[K").utf8))
    }

    public func epochFinished(_ row: HistoryRow, seconds: Double, checkpoint: String?) {
        // Keras's line: loss and metrics. The diagnostic signals would crowd it; history.csv has them.
        let metrics = row.values.keys.filter(Self.isShown).sorted { order($0) < order($1) }
            .map { "\($0): \(String(format: "%.4f", row.values[$0]!))" }.joined(separator: " - ")
        let saved = checkpoint.map { " - saved \($0)" } ?? ""
        if interactive {
            print("\r\(String(format: "%.2f", seconds))s - \(metrics)\(saved)\u{1B}[K")
        } else {
            print("epoch \(row.epoch): \(String(format: "%.2f", seconds))s - \(metrics)\(saved)")
        }
        lastDraw = 0
    }

    public func note(_ message: String) {
        print(message)
    }

    static let shown: Set<String> = ["loss", "accuracy", "val_loss", "val_accuracy"]

    /// Keras's own values, and (a model with several outputs) the per-output losses and
    /// accuracies (`<name>_loss`, `val_<name>_accuracy`, ...) beside them, as Keras's progress
    /// bar shows them; `chance_loss` is one of Relapse's signals.
    static func isShown(_ key: String) -> Bool {
        shown.contains(key) || (key != "chance_loss" && (key.hasSuffix("_loss") || key.hasSuffix("_accuracy")))
    }

    /// As Keras prints them: the loss, the per-output losses, then the accuracies; validation
    /// after training in the same order.
    private func order(_ key: String) -> String {
        let validation = key.hasPrefix("val_")
        let name = validation ? String(key.dropFirst(4)) : key
        let rank = name == "loss" ? 0 : name.hasSuffix("_loss") ? 1 : 2
        return String(rank + (validation ? 3 : 0)) + key
    }
}
