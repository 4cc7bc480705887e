import Foundation
import KerasFile

/// Shared by the diff and scan reports: numbers for people and for strict JSON readers.
enum ReportFormatting {
    /// Standard JSON has no NaN or Infinity: non-finite and missing values become null.
    static func json(_ value: Double?) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        return .double(value)
    }

    static func json(_ value: Int?) -> JSONValue { value.map { .int($0) } ?? .null }

    static func json(_ shape: [Int]?) -> JSONValue { shape.map { .array($0.map { .int($0) }) } ?? .null }

    static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(format: "%.3g", value)
    }

    static func shape(_ shape: [Int]?) -> String {
        guard let shape else { return "-" }
        return "(" + shape.map(String.init).joined(separator: ",") + (shape.count == 1 ? ",)" : ")")
    }

    /// Columns padded to their widest cell; `right` columns aligned right (numbers).
    static func table(_ header: [String], _ rows: [[String]], right: Set<Int>) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return right.contains(c) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}
