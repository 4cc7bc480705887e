import HDF5
import Training

/// `relapse diff`: every weight and optimizer slot of two checkpoints compared, flagged, and
/// ordered most suspicious first.
public struct CheckpointDiff: Sendable {
    public enum Verdict: String, Sendable {
        case ok, nan, explosion
        /// The two files are checkpoints of different models: nothing to conclude from the
        /// numbers (exit 2, "could not be compared").
        case unrelated

        /// The command's exit status: 0 healthy, 1 NaN/Inf or explosion, 2 unrelated models.
        public var exitStatus: Int32 { self == .ok ? 0 : self == .unrelated ? 2 : 1 }
    }

    public enum Flag: String, Sendable {
        case nan, explosion
        case missingInA = "missing_in_a", missingInB = "missing_in_b"
        case shapeChanged = "shape_changed"
    }

    public struct Row: Sendable {
        /// The tensor's name in A (in B when A lacks it); slots as `<slot>:<weight name>`.
        public var name: String
        /// B's name when it differs (tensors paired by position).
        public var nameB: String?
        public var layer: String
        /// nil for a weight, else the optimizer slot (`m`, `v`, ...).
        public var slot: String?
        public var comparison: TensorComparison
        /// Weights of an Adam checkpoint: the update-ratio signals on each side.
        public var adamA: AdamSignals?
        public var adamB: AdamSignals?
        public var flags: [Flag]
    }

    public var pathA: String
    public var pathB: String
    /// "name", or "position" when two runs named their layers differently.
    public var pairedBy: String
    public var thresholds: ExplosionThresholds
    public var optimizerA: (className: String, iterations: Int64)?
    public var optimizerB: (className: String, iterations: Int64)?
    public var rows: [Row]
    /// Nil for two checkpoints of one architecture; else how they differ (`Architecture`).
    public var architectureDifference: String?

    public var verdict: Verdict {
        if architectureDifference != nil { return .unrelated }
        if rows.contains(where: { $0.flags.contains(.nan) }) { return .nan }
        if rows.contains(where: { $0.flags.contains(.explosion) }) { return .explosion }
        return .ok
    }

    public init(_ a: CheckpointTensors, _ b: CheckpointTensors, thresholds: ExplosionThresholds = ExplosionThresholds()) throws {
        pathA = a.path
        pathB = b.path
        architectureDifference = Architecture(a).difference(from: Architecture(b))
        self.thresholds = thresholds
        optimizerA = a.optimizerClass.flatMap { c in a.iterations.map { (c, $0) } }
        optimizerB = b.optimizerClass.flatMap { c in b.iterations.map { (c, $0) } }
        let pairs = WeightPairing(a.weights.map(\.name), b.weights.map(\.name))
        pairedBy = pairs.byPosition ? "position" : "name"
        guard pairs.pairs.contains(where: { $0.a != nil && $0.b != nil }) else {
            throw DiagnosisError("\(a.path) and \(b.path) have no weights in common to compare")
        }
        var rows: [Row] = []
        for pair in pairs.pairs {
            let wa = pair.a.map { a.weights[$0] }, wb = pair.b.map { b.weights[$0] }
            let name = wa?.name ?? wb!.name
            let comparison = TensorComparison(wa?.values, wb?.values)
            var row = Row(name: name, nameB: wb.flatMap { $0.name == name ? nil : $0.name }, layer: wa?.layer ?? wb!.layer,
                          slot: nil, comparison: comparison,
                          adamA: pair.a.flatMap { a.adamSignals(forWeight: $0) },
                          adamB: pair.b.flatMap { b.adamSignals(forWeight: $0) }, flags: [])
            row.flags = Self.flags(comparison, explosionChecked: true, thresholds: thresholds)
            rows.append(row)
            guard let ia = pair.a, let ib = pair.b else { continue }
            // Slots only where both files keep them; a fresh optimizer on one side has none to compare.
            for slot in Set(a.slots.keys).intersection(b.slots.keys).sorted() {
                let sa = a.slots[slot]![ia], sb = b.slots[slot]![ib]
                let slotComparison = TensorComparison(sa, sb)
                rows.append(Row(name: "\(slot):\(name)", nameB: row.nameB.map { "\(slot):\($0)" }, layer: row.layer,
                                slot: slot, comparison: slotComparison, adamA: nil, adamB: nil,
                                flags: Self.flags(slotComparison, explosionChecked: false, thresholds: thresholds)))
            }
        }
        self.rows = rows.enumerated().sorted { Self.rank($0.element, $0.offset) < Self.rank($1.element, $1.offset) }.map(\.element)
    }

    /// Optimizer moments legitimately grow by orders of magnitude when gradients do, so only
    /// weights can "explode"; slots are flagged for NaN/Inf.
    static func flags(_ c: TensorComparison, explosionChecked: Bool, thresholds: ExplosionThresholds) -> [Flag] {
        var flags: [Flag] = []
        if c.hasNonFinite { flags.append(.nan) }
        if explosionChecked, thresholds.exploded(c) { flags.append(.explosion) }
        if c.shapeA == nil { flags.append(.missingInA) }
        if c.shapeB == nil { flags.append(.missingInB) }
        if let sa = c.shapeA, let sb = c.shapeB, sa != sb { flags.append(.shapeChanged) }
        return flags
    }

    /// NaN first, then explosions (largest growth first), then structural changes, then the
    /// unflagged weights and last their optimizer slots (whose v grows with any gradient), each
    /// by relative change; ties keep Keras's weight order.
    private static func rank(_ row: Row, _ order: Int) -> (Int, Double, Int) {
        let f = row.flags
        let tier = f.contains(.nan) ? 0 : f.contains(.explosion) ? 1 : !f.isEmpty ? 2 : row.slot == nil ? 3 : 4
        let size = tier == 1 ? (row.comparison.normRatio ?? .infinity) : (row.comparison.relativeChange ?? 0)
        return (tier, -(size.isNaN ? .infinity : size), order)
    }
}

/// Which weight of A goes with which of B: by stored name, or, when two runs of one
/// architecture named their layers differently (`conv2d` vs `conv2d_3`), by position.
struct WeightPairing {
    var pairs: [(a: Int?, b: Int?)] = []
    var byPosition = false

    init(_ a: [String], _ b: [String]) {
        let indexB = Dictionary(b.enumerated().map { ($1, $0) }, uniquingKeysWith: { x, _ in x })
        let sameNames = Set(a) == Set(b)
        if !sameNames, a.count == b.count {
            byPosition = true
            pairs = a.indices.map { ($0, $0) }
            return
        }
        var used = Set<Int>()
        for (i, name) in a.enumerated() {
            let j = indexB[name]
            if let j { used.insert(j) }
            pairs.append((i, j))
        }
        for j in b.indices where !used.contains(j) { pairs.append((nil, j)) }
    }
}

public struct DiagnosisError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
