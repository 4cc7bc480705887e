import KerasFile
import Training

extension CheckpointDiff {
    /// A table, most suspicious first, and a verdict line.
    public func text() -> String {
        typealias F = ReportFormatting
        var lines = ["A: \(pathA)" + optimizerText(optimizerA), "B: \(pathB)" + optimizerText(optimizerB)]
        if pairedBy == "position" { lines.append("Note: the files name their weights differently; paired by position") }
        lines.append("")
        let header = ["Tensor", "Shape", "NaN/Inf A", "NaN/Inf B", "max|A|", "max|B|", "||A||", "||B||",
                      "max|B-A|", "rel.change", "||B||/||A||", "min sqrt(v^) A->B", "max update ratio A->B", "Flags"]
        let body = rows.map { row -> [String] in
            let c = row.comparison
            let shape = c.shapeA == c.shapeB ? F.shape(c.shapeA) : "\(F.shape(c.shapeA))->\(F.shape(c.shapeB))"
            func bad(_ s: TensorStatistics?) -> String { s.map { "\($0.nanCount)/\($0.infCount)" } ?? "-" }
            func pair(_ x: Double?, _ y: Double?) -> String { x == nil && y == nil ? "" : "\(F.number(x))->\(F.number(y))" }
            return [row.name + (row.nameB.map { " ~ \($0)" } ?? ""), shape, bad(c.a), bad(c.b),
                    F.number(c.a?.maxAbs), F.number(c.b?.maxAbs), F.number(c.a?.norm), F.number(c.b?.norm),
                    F.number(c.maxAbsDifference), F.number(c.relativeChange), F.number(c.normRatio),
                    pair(row.adamA?.minSqrtVHat, row.adamB?.minSqrtVHat),
                    pair(row.adamA?.maxUpdateRatio, row.adamB?.maxUpdateRatio),
                    row.flags.map(\.rawValue).joined(separator: ",")]
        }
        lines += F.table(header, body, right: Set(2...12))
        lines.append("")
        lines.append("Verdict: \(verdict.rawValue)" + verdictDetail)
        return lines.joined(separator: "\n")
    }

    private var verdictDetail: String {
        if let architectureDifference { return ": different models (\(architectureDifference))" }
        guard let first = rows.first, verdict != .ok else {
            return " (no NaN/Inf; no weight grew more than \(ReportFormatting.number(thresholds.normRatio))x"
                + (thresholds.maxAbs.map { " or past |\(ReportFormatting.number($0))|" } ?? "") + ")"
        }
        return verdict == .nan ? ": NaN/Inf first in \(first.name)"
            : ": \(first.name) grew \(ReportFormatting.number(first.comparison.normRatio))x in norm"
    }

    private func optimizerText(_ o: (className: String, iterations: Int64)?) -> String {
        o.map { "  (\($0.className), iterations \($0.iterations))" } ?? "  (no optimizer state)"
    }

    /// One JSON object: `verdict`, the settings, and a `tensors` array in the table's order.
    public func json() -> JSONValue {
        typealias F = ReportFormatting
        func optimizer(_ o: (className: String, iterations: Int64)?) -> JSONValue {
            o.map { .object([("class_name", .string($0.className)), ("iterations", .int(Int($0.iterations)))]) } ?? .null
        }
        func adam(_ s: AdamSignals?) -> JSONValue {
            s.map { .object([("min_sqrt_v_hat", F.json($0.minSqrtVHat)), ("max_update_ratio", F.json($0.maxUpdateRatio))]) } ?? .null
        }
        func side(_ s: TensorStatistics?, _ shape: [Int]?) -> JSONValue {
            guard let s else { return .null }
            return .object([("shape", F.json(shape)), ("nan", .int(s.nanCount)), ("inf", .int(s.infCount)),
                            ("max_abs", F.json(s.maxAbs)), ("norm", F.json(s.norm))])
        }
        let tensors: [JSONValue] = rows.map { row in
            let c = row.comparison
            return .object([
                ("name", .string(row.name)), ("name_b", row.nameB.map { .string($0) } ?? .null),
                ("layer", .string(row.layer)), ("kind", .string(row.slot == nil ? "weight" : "optimizer_slot")),
                ("slot", row.slot.map { .string($0) } ?? .null),
                ("a", side(c.a, c.shapeA)), ("b", side(c.b, c.shapeB)),
                ("max_abs_diff", F.json(c.maxAbsDifference)), ("relative_change", F.json(c.relativeChange)),
                ("norm_ratio", F.json(c.normRatio)),
                ("adam", row.slot == nil && (row.adamA != nil || row.adamB != nil)
                    ? .object([("a", adam(row.adamA)), ("b", adam(row.adamB))]) : .null),
                ("flags", .array(row.flags.map { .string($0.rawValue) })),
            ])
        }
        return .object([
            ("verdict", .string(verdict.rawValue)), ("a", .string(pathA)), ("b", .string(pathB)),
            ("paired_by", .string(pairedBy)), ("explosion_ratio", F.json(thresholds.normRatio)),
            ("max_abs", F.json(thresholds.maxAbs)),
            ("optimizer", .object([("a", optimizer(optimizerA)), ("b", optimizer(optimizerB))])),
            ("tensors", .array(tensors)),
        ])
    }
}
