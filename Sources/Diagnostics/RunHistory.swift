import Foundation
import Training

/// The loss history beside a run's checkpoints: Relapse's `history.csv`, or a Keras CSVLogger
/// file (`history.csv` or its default `training.log`), keyed by 1-based epoch as checkpoints are.
public enum RunHistory {
    public static let fileNames = ["history.csv", "training.log"]

    /// Rows of the first history file found in `directory`; empty when there is none.
    public static func read(directory: String) -> [HistoryRow] {
        for name in fileNames {
            // Not a FIFO (the read would block) or anything else but a plain file.
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            if let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) {
                return parse(text)
            }
        }
        return []
    }

    /// CSV with an `epoch` column. CSVLogger counts epochs from 0 while ModelCheckpoint names
    /// them from 1, so a file whose first epoch is 0 is shifted by one.
    public static func parse(_ text: String) -> [HistoryRow] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, let epochColumn = header.firstIndex(of: "epoch") else { return [] }
        var rows: [HistoryRow] = []
        for fields in lines.dropFirst() where fields.count == header.count {
            guard let epoch = Int(fields[epochColumn]) else { continue }
            var values: [String: Double] = [:]
            for (key, field) in zip(header, fields) where key != "epoch" {
                if let value = Double(field) { values[key] = value }
            }
            rows.append(HistoryRow(epoch: epoch, values: values))
        }
        if rows.first?.epoch == 0 { rows = rows.map { HistoryRow(epoch: $0.epoch + 1, values: $0.values) } }
        return rows
    }
}
