import Foundation
import KerasFile

/// `history.csv` as Keras's CSVLogger writes it: an `epoch` column, then every logged
/// quantity in sorted order. Rewritten whole from the checkpoint's history each epoch, so the
/// file always agrees with the newest checkpoint.
public enum HistoryCSV {
    public static func text(_ rows: [HistoryRow]) -> String {
        let keys = Set(rows.flatMap { $0.values.keys }).sorted()
        var lines = [(["epoch"] + keys).joined(separator: ",")]
        for row in rows {
            lines.append(([String(row.epoch)] + keys.map { key in row.values[key].map(format) ?? "" }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func write(_ rows: [HistoryRow], to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            try text(rows).write(toFile: temporary, atomically: false, encoding: .utf8)
        }
    }

    /// Python's repr of a float, as CSVLogger prints numbers.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return JSONValue.double(value).serialized()
    }
}
