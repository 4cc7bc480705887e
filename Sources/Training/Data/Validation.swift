import Kernels

/// What the labels of a dataset hold, as the loss reads them.
public enum LabelKind: Equatable, Sendable {
    /// One value per output unit: (n, width).
    case values(width: Int)
    /// One value per output unit of an output of any rank: (n, ...shape), as Keras needs for
    /// a model whose output is (positions, width) per sample (the loss is averaged over them).
    case valuesOfShape([Int])
    /// One class index per sample, (n) or (n, 1), each an integer in 0..<classes
    /// (sparse_categorical_crossentropy).
    case classIndices(classes: Int)
}

extension Dataset {
    /// `validated(modelInputShape:labels:)` with one label per output unit.
    public func validated(modelInputShape: [Int], outputWidth: Int) throws -> Dataset {
        try validated(modelInputShape: modelInputShape, labels: .values(width: outputWidth))
    }

    /// Checks the data against a model before any training: at least one sample, as many
    /// labels as samples, samples of `modelInputShape` (the per-sample input, without the
    /// batch axis; a negative dimension matches anything), labels as `labels` says, and no
    /// NaN or infinity anywhere. (n, h, w) images are given their one channel where the model
    /// wants (1, h, w) or (h, w, 1). Returns the data as the model will see it.
    public func validated(modelInputShape: [Int], labels: LabelKind) throws -> Dataset {
        try validated(inputShapes: [modelInputShape], labels: [labels])
    }

    /// The same for every input (`inputShapes`, the model's input order) and every target
    /// (`labels`, one per output with a loss), all with the first input's number of samples.
    /// Messages name the dataset ("x", or the model input's name).
    public func validated(inputShapes: [[Int]], labels: [LabelKind]) throws -> Dataset {
        precondition(inputShapes.count == inputs.count && labels.count == targets.count)
        let xName = source.name(of: .x), yName = source.name(of: .y)
        let several = inputs.count > 1 || targets.count > 1
        guard x.rank > 0, count > 0 else { throw DataError(xName, "holds no samples") }
        for (k, input) in inputs.enumerated().dropFirst() where input.rank == 0 || input.shape[0] != count {
            throw DataError(xName, "\(inputNames[k]) has \(input.shape.first ?? 0) samples but \(inputNames[0]) has \(count)")
        }
        for (j, target) in targets.enumerated() where target.rank == 0 || target.shape[0] != count {
            let labelCount = target.shape.first ?? 0
            if several { throw DataError(yName, "\(targetNames[j]) has \(labelCount) samples but \(inputNames[0]) has \(count)") }
            if xName == yName { throw DataError(xName, "x has \(count) samples but y has \(labelCount)") }
            throw DataError(yName, "has \(labelCount) labels but \(xName) has \(count) samples")
        }
        var result = self
        for (k, wanted) in inputShapes.enumerated() {
            let shape = Array(inputs[k].shape.dropFirst())
            guard !Self.matches(shape, wanted) else { continue }
            guard let expanded = Self.addingChannel(to: shape, for: wanted) else {
                throw DataError(xName, "\(inputNames[k]) has samples of shape \(Self.tuple(shape)) but the model expects "
                    + "\(Self.tuple(wanted))" + Self.layoutHint(shape, wanted))
            }
            result.inputs[k].shape = [count] + expanded
        }
        for (j, kind) in labels.enumerated() {
            let y = targets[j], name = targetNames[j]
            switch kind {
            case .classIndices(let classes):
                try Self.checkClassIndices(y, classes: classes, name, yName)
                result.targets[j].shape = [count, 1]
            case .values(let width):
                try Self.checkShape(y, [width], name, yName)
            case .valuesOfShape(let shape):
                try Self.checkShape(y, shape, name, yName)
            }
        }
        for (k, input) in inputs.enumerated() { try Self.checkFinite(input, inputNames[k], xName) }
        for (j, kind) in labels.enumerated() {
            // Class indices were checked to be whole numbers in range.
            if case .classIndices = kind { continue }
            try Self.checkFinite(targets[j], targetNames[j], yName)
        }
        return result
    }

    /// Labels of the output's whole shape per sample.
    private static func checkShape(_ y: Tensor, _ outputShape: [Int], _ part: String, _ name: String) throws {
        let count = y.shape.first ?? 0
        let wanted = [count] + outputShape
        guard y.shape != wanted else { return }
        let outputWidth = outputShape.last ?? 1
        let hint = y.rank == 1 && outputWidth > 1 ? " (one-hot labels, one column per output)" : ""
        throw DataError(name, "\(part) has shape \(tuple(y.shape)) but the model's output needs \(tuple(wanted))\(hint)")
    }

    /// Labels for sparse_categorical_crossentropy: (n) or (n, 1) integers below `classes`.
    /// TensorFlow fails on an index out of range and truncates a fraction; both are refused.
    private static func checkClassIndices(_ y: Tensor, classes: Int, _ part: String, _ name: String) throws {
        guard y.rank == 1 || (y.rank == 2 && y.shape[1] == 1) else {
            throw DataError(name, "\(part) has shape \(tuple(y.shape)) but sparse_categorical_crossentropy needs one class index per sample, (\(y.shape.first ?? 0),) or (\(y.shape.first ?? 0), 1)")
        }
        if let i = y.data.firstIndex(where: { !($0 >= 0 && $0 < Float(classes) && $0.rounded() == $0) }) {
            throw DataError(name, "\(part) holds \(y.data[i]) in sample \(i); sparse_categorical_crossentropy needs class indices 0 to \(classes - 1)")
        }
    }

    private static func matches(_ shape: [Int], _ wanted: [Int]) -> Bool {
        shape.count == wanted.count && zip(shape, wanted).allSatisfy { $1 < 0 || $0 == $1 }
    }

    /// (h, w) becomes (1, h, w) or (h, w, 1) when that is exactly what the model takes.
    private static func addingChannel(to shape: [Int], for wanted: [Int]) -> [Int]? {
        guard shape.count == 2 else { return nil }
        if matches([1] + shape, wanted) && wanted[0] == 1 { return [1] + shape }
        if matches(shape + [1], wanted) && wanted[2] == 1 { return shape + [1] }
        return nil
    }

    private static func layoutHint(_ shape: [Int], _ wanted: [Int]) -> String {
        guard shape.count == 3, wanted.count == 3 else { return "" }
        if shape == [wanted[1], wanted[2], wanted[0]] { return " (channels_last data for a channels_first model)" }
        if shape == [wanted[2], wanted[0], wanted[1]] { return " (channels_first data for a channels_last model)" }
        return ""
    }

    private static func checkFinite(_ t: Tensor, _ part: String, _ name: String) throws {
        var nan = 0, infinite = 0, first = -1
        t.data.withUnsafeBufferPointer { values in
            for (i, v) in values.enumerated() where !v.isFinite {
                if v.isNaN { nan += 1 } else { infinite += 1 }
                if first < 0 { first = i }
            }
        }
        guard first >= 0 else { return }
        let width = max(1, t.shape.dropFirst().reduce(1, *))
        let kinds = [nan > 0 ? "\(nan) NaN" : nil, infinite > 0 ? "\(infinite) infinite" : nil].compactMap { $0 }
        throw DataError(name, "\(part) holds \(kinds.joined(separator: " and ")) value\(nan + infinite == 1 ? "" : "s"); "
            + "the first is in sample \(first / width) (flat index \(first))")
    }

    /// Shapes as Python prints tuples, the way Keras users read them: (1, 32, 32), (5,).
    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
