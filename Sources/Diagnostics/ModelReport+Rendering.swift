import Foundation
import KerasFile

extension ModelReport {
    /// The report as tables for a terminal.
    public func text() -> String {
        var lines: [String] = []
        lines.append("File:      \(path)")
        lines.append("Producer:  \(producer)" + (backend.map { " (backend \($0))" } ?? ""))
        if let modelClass {
            lines.append("Model:     \(modelClass) '\(modelName ?? "")', \(layers.count) layers, \(grouped(parameterCount)) parameters")
        } else {
            lines.append("Model:     weights only (save_weights file), \(grouped(parameterCount)) parameters")
        }
        lines += notes.map { "Note:      \($0)" }
        if !refusals.isEmpty {
            lines.append("Refused:   \(refusals.count) setting\(refusals.count == 1 ? "" : "s") Relapse does not compute; training and prediction stop on them:")
            lines += refusals.map { "  - \($0)" }
        }
        lines.append("")
        lines += ReportFormatting.table(["Layer", "Class", "Output shape", "Params"],
                       layers.map { [$0.name, $0.className, $0.outputShape.map(shapeText) ?? "?", grouped($0.parameterCount)] },
                       right: [3])
        lines.append("")
        lines += ReportFormatting.table(["Weight", "Shape", "Min", "Max", "Mean", "NaN", "Inf"],
                       weights.map { w in
                           [w.name, shapeText(w.shape), number(w.statistics.min), number(w.statistics.max),
                            number(w.statistics.mean), String(w.statistics.nanCount), String(w.statistics.infCount)]
                       },
                       right: [2, 3, 4, 5, 6])
        lines.append("")
        if let optimizer {
            let slots = optimizer.slots.map { "\($0.name) (\($0.count))" }.joined(separator: ", ")
            lines.append("Optimizer state: \(optimizer.className), iterations \(optimizer.iterations), slots: \(slots.isEmpty ? "none" : slots)")
        } else if let vars = optimizerVariables {
            let named = vars.name.map { "optimizer '\($0)', " } ?? ""
            lines.append("Optimizer state: \(vars.shapes.count) variables by position (\(named)iterations \(vars.iterations.map(String.init) ?? "unknown")); "
                         + "their slots need the model's config (a .keras or a model file)")
            lines.append("  shapes: " + runs(zip(vars.shapes, vars.dtypes).map { "\(shapeText($0)) \($1)" }))
        } else {
            lines.append("Optimizer state: none")
        }
        if let config = trainingConfig {
            let settings = (config.optimizerConfig.objectValue ?? [])
                .filter { !$0.1.isNull && $0.0 != "name" }
                .map { "\($0.0)=\($0.1.serialized())" }
                .joined(separator: " ")
            lines.append("Training config: optimizer \(config.optimizerClass) \(settings)")
            lines.append("                 loss \(config.loss ?? config.json["loss"]?.serialized() ?? "none")")
        } else {
            lines.append("Training config: none (not compiled)")
        }
        return lines.joined(separator: "\n")
    }

    /// The report as one JSON object.
    public func json() -> JSONValue {
        func optionalNumber(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
        var object: [(String, JSONValue)] = [
            ("file", .string(path)),
            ("producer", .string(producer.description)),
            ("keras_version", producer.version.map { .string($0) } ?? .null),
            ("backend", backend.map { .string($0) } ?? .null),
            ("model_class", modelClass.map { .string($0) } ?? .null),
            ("parameters", .int(parameterCount)),
            ("notes", .array(notes.map { .string($0) })),
            ("refusals", .array(refusals.map { r in
                .object([("scope", .string(r.scope)), ("key", .string(r.key)), ("value", r.value),
                         ("reason", .string(r.reason)), ("message", .string(r.description))])
            })),
            ("layers", .array(layers.map { layer in
                .object([("name", .string(layer.name)), ("class_name", .string(layer.className)),
                         ("output_shape", layer.outputShape.map { .array($0.map { .int($0) }) } ?? .null),
                         ("parameters", .int(layer.parameterCount))])
            })),
            ("weights", .array(weights.map { w in
                .object([("layer", .string(w.layer)), ("name", .string(w.name)),
                         ("shape", .array(w.shape.map { .int($0) })), ("dtype", .string(w.dtype)),
                         ("min", optionalNumber(w.statistics.min)), ("max", optionalNumber(w.statistics.max)),
                         ("mean", optionalNumber(w.statistics.mean)),
                         ("nan", .int(w.statistics.nanCount)), ("inf", .int(w.statistics.infCount))])
            })),
        ]
        object.append(("optimizer", optimizer.map { o in
            .object([("class_name", .string(o.className)), ("iterations", .int(Int(o.iterations))),
                     ("slots", .object(o.slots.map { ($0.name, .int($0.count)) }))])
        } ?? .null))
        object.append(("optimizer_variables", optimizerVariables.map { v in
            .object([("name", v.name.map { .string($0) } ?? .null), ("count", .int(v.shapes.count)),
                     ("iterations", v.iterations.map { .int(Int($0)) } ?? .null),
                     ("shapes", .array(v.shapes.map { .array($0.map { .int($0) }) })),
                     ("dtypes", .array(v.dtypes.map { .string($0) }))])
        } ?? .null))
        object.append(("training_config", trainingConfig?.json ?? .null))
        return .object(object)
    }

    /// Items in order, a run of equal ones as one with its count ("(6,) float32 x2").
    private func runs(_ items: [String]) -> String {
        var parts: [String] = []
        var index = 0
        while index < items.count {
            var end = index + 1
            while end < items.count, items[end] == items[index] { end += 1 }
            parts.append(end - index > 1 ? "\(items[index]) x\(end - index)" : items[index])
            index = end
        }
        return parts.joined(separator: ", ")
    }

    private func shapeText(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }

    private func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        return String(format: "%.6g", value)
    }

    private func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(d)
        }
        return out
    }
}
