import Foundation
import Training

/// `relapse scan`: a run's checkpoints in epoch order with the loss history, weight norms,
/// NaN/Inf counts and Adam's signals, and the epochs where things first went wrong.
public struct RunScan: Sendable {
    public struct Options: Sendable {
        public var explosion = ExplosionThresholds()
        /// A loss at least `jumpFactor` times the best so far, and `jumpMinimum` above it, is a
        /// jump; the minimum keeps a near-zero loss's ordinary noise (0.001 -> 0.003) out.
        public var jumpFactor = 2.0
        public var jumpMinimum = 0.05
        public init() {}
    }

    public enum Verdict: String, Sendable {
        case ok, nan, explosion, jump

        /// 0 healthy, 1 NaN/Inf, explosion or loss jump.
        public var exitStatus: Int32 { self == .ok ? 0 : 1 }
    }

    public struct Epoch: Sendable {
        public var epoch: Int
        public var file: String
        public var loss: Double?
        public var valLoss: Double?
        public var weightNorm: Double
        public var layerNorms: [(layer: String, norm: Double)]
        /// Over weights and optimizer slots.
        public var nanCount: Int
        public var infCount: Int
        public var adamMaxUpdateRatio: Double?
        public var adamMinSqrtVHat: Double?
        public var adamSqrtVHatP1: Double?
        /// The weight whose norm grew most since the previous checkpoint.
        public var largestGrowth: (tensor: String, ratio: Double)?
        public var largestAbs: Double?
        public var flags: [String] = []
    }

    public var directory: String
    public var options: Options
    public var epochs: [Epoch]
    /// Loss (and any other logged value) per epoch, every epoch the history has.
    public var history: [HistoryRow]
    /// Files that look like checkpoints but could not be read, with the reason.
    public var unreadable: [(file: String, reason: String)]
    public var firstJumpEpoch: Int?
    public var firstNaNEpoch: Int?
    public var firstExplosionEpoch: Int?
    /// The earliest of the first jump, NaN, explosion and the start of a sustained rise.
    public var firstProblemEpoch: Int?
    /// The last checkpoint before the first problem (the last one when there is none).
    public var lastHealthy: Epoch?
    /// When the folder is a branch (a resume written to its own folder): where it forked. Its
    /// first checkpoint's growth is measured against that parent checkpoint.
    public var branch: BranchRecord?
    /// Each symptom rule that held at some epoch of the history (docs/DIAGNOSIS.md), in
    /// `Symptoms.all`'s order.
    public var symptoms: [SymptomSummary] = []
    /// Branch folders inside this run's folder (`from-0002-lr0.05`, ...): their checkpoints
    /// are theirs, not this run's; `relapse scan` on each reads it.
    public var branches: [(folder: String, record: BranchRecord)] = []

    public var verdict: Verdict {
        if firstNaNEpoch != nil { return .nan }
        if firstExplosionEpoch != nil { return .explosion }
        if firstJumpEpoch != nil { return .jump }
        return .ok
    }

    public init(directory: String, options: Options = Options()) throws {
        self.directory = directory
        self.options = options
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            var info = stat()
            if stat(directory, &info) != 0 {
                throw DiagnosisError("\(directory): " + (errno == ENOENT ? "no such folder" : "cannot be read: \(String(cString: strerror(errno)))"))
            }
            throw DiagnosisError("\(directory): is not a folder")
        }
        // Only this folder's own files: a branch folder inside it is another run (listed, not read).
        var names: [String] = []
        var found: [(folder: String, record: BranchRecord)] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                if let record = BranchRecord.read(in: directory + "/" + name) { found.append((name, record)) }
            } else {
                names.append(name)
            }
        }
        branches = found.sorted { ($0.record.epoch, $0.folder) < ($1.record.epoch, $1.folder) }
        branch = BranchRecord.read(in: directory)
        let candidates = names.compactMap { name in CheckpointName.epoch(of: name).map { (epoch: $0, name: name) } }
            .sorted { ($0.epoch, $0.name.count, $0.name) < ($1.epoch, $1.name.count, $1.name) }
        var historyByEpoch = Dictionary(RunHistory.read(directory: directory).map { ($0.epoch, $0) }, uniquingKeysWith: { _, b in b })
        epochs = []
        unreadable = []
        var previous: [(name: String, norm: Double)] = []
        // The run's model: the parent's for a branch, else the one most of the checkpoints
        // hold (a foreign model copied in among them is set aside, never scanned or recommended).
        var reference: Architecture?
        if let branch, let parent = try? CheckpointTensors(path: branch.parent) {
            previous = Self.summarize(parent, epoch: branch.epoch, previous: []).1
            reference = Architecture(parent)
        }
        if reference == nil { reference = Self.commonArchitecture(candidates.map { directory + "/" + $0.name }) }
        for candidate in candidates {
            let path = directory + "/" + candidate.name
            let checkpoint: CheckpointTensors
            do {
                checkpoint = try CheckpointTensors(path: path)
            } catch {
                unreadable.append((path, "\(error)"))
                continue
            }
            if let reference, let difference = Architecture(checkpoint).difference(from: reference, here: "it", there: "the run") {
                unreadable.append((path, "is a checkpoint of another model (\(difference)); not scanned as part of this run"))
                continue
            }
            // A checkpoint's own record of the run is newer than any CSV beside it.
            for row in checkpoint.recordedHistory ?? [] { historyByEpoch[row.epoch] = row }
            let (epoch, norms) = Self.summarize(checkpoint, epoch: candidate.epoch, previous: previous)
            epochs.append(epoch)
            previous = norms
        }
        guard !epochs.isEmpty else {
            throw DiagnosisError(unreadable.first.map { "no readable checkpoint in \(directory) (\($0.reason))" }
                                 ?? "no checkpoints in \(directory) (looked for .h5/.hdf5/.keras files whose names hold the epoch)")
        }
        history = historyByEpoch.values.sorted { $0.epoch < $1.epoch }
        for i in epochs.indices {
            epochs[i].loss = historyByEpoch[epochs[i].epoch]?.values["loss"]
            epochs[i].valLoss = historyByEpoch[epochs[i].epoch]?.values["val_loss"]
        }
        lastHealthy = nil
        diagnose()
    }

    /// The architecture most of `paths` hold (the earliest among equals); nil when none reads.
    /// Each file is read once here and let go, so memory stays one checkpoint.
    static func commonArchitecture(_ paths: [String]) -> Architecture? {
        var counts: [(architecture: Architecture, count: Int)] = []
        for path in paths {
            guard let checkpoint = try? CheckpointTensors(path: path) else { continue }
            let architecture = Architecture(checkpoint)
            if let i = counts.firstIndex(where: { $0.architecture == architecture }) {
                counts[i].count += 1
            } else {
                counts.append((architecture, 1))
            }
        }
        return counts.max { $0.count < $1.count }.map(\.architecture)
    }

    /// Norms, NaN/Inf and Adam signals of one checkpoint; growth against the previous one.
    static func summarize(_ checkpoint: CheckpointTensors, epoch: Int,
                          previous: [(name: String, norm: Double)]) -> (Epoch, [(name: String, norm: Double)]) {
        var nan = 0, inf = 0, squares = 0.0, largestAbs: Double?
        var layerSquares: [(String, Double)] = []
        var norms: [(name: String, norm: Double)] = []
        var adamRatio: Double?, adamLow: Double?
        for (index, weight) in checkpoint.weights.enumerated() {
            let stats = TensorStatistics(weight.values)
            nan += stats.nanCount
            inf += stats.infCount
            squares += stats.norm * stats.norm
            if let top = stats.maxAbs { largestAbs = max(largestAbs ?? 0, top) }
            if let last = layerSquares.last, last.0 == weight.layer {
                layerSquares[layerSquares.count - 1].1 += stats.norm * stats.norm
            } else {
                layerSquares.append((weight.layer, stats.norm * stats.norm))
            }
            norms.append((weight.name, stats.norm))
            if let adam = checkpoint.adamSignals(forWeight: index) {
                adamRatio = combine(adamRatio, adam.maxUpdateRatio, max)
                adamLow = combine(adamLow, adam.minSqrtVHat, min)
            }
        }
        for arrays in checkpoint.slots.values {
            for array in arrays {
                let stats = TensorStatistics(array)
                nan += stats.nanCount
                inf += stats.infCount
            }
        }
        var growth: (tensor: String, ratio: Double)?
        let pairing = WeightPairing(previous.map(\.name), norms.map(\.name))
        for case let (a?, b?) in pairing.pairs where previous[a].norm > 0 {
            let ratio = norms[b].norm / previous[a].norm
            if growth == nil || ratio > growth!.ratio { growth = (norms[b].name, ratio) }
        }
        let summary = Epoch(epoch: epoch, file: checkpoint.path, weightNorm: squares.squareRoot(),
                            layerNorms: layerSquares.map { ($0.0, $0.1.squareRoot()) }, nanCount: nan, infCount: inf,
                            adamMaxUpdateRatio: adamRatio, adamMinSqrtVHat: adamLow, adamSqrtVHatP1: checkpoint.sqrtVHatP1,
                            largestGrowth: growth, largestAbs: largestAbs)
        return (summary, norms)
    }

    /// NaN wins over any comparison, so a broken tensor cannot hide behind max/min.
    private static func combine(_ a: Double?, _ b: Double, _ pick: (Double, Double) -> Double) -> Double {
        guard let a else { return b }
        return a.isNaN || b.isNaN ? .nan : pick(a, b)
    }

    /// The rules scan applies: `Symptoms.all` with the spike and explosion thresholds of `options`.
    public var rules: [any SymptomRule] {
        Symptoms.all.map { rule in
            if var spike = rule as? Spike {
                spike.factor = options.jumpFactor
                spike.minimumRise = options.jumpMinimum
                return spike
            }
            if var explosion = rule as? Explosion {
                explosion.ratio = options.explosion.normRatio
                return explosion
            }
            return rule
        }
    }

    /// Marks jumps (the spike rule), NaN/Inf and explosions, evaluates every symptom rule, and
    /// finds the checkpoint to resume from.
    private mutating func diagnose() {
        let rules = self.rules
        let findings = Symptoms.evaluate(history, rules: rules)
        symptoms = rules.compactMap { rule in
            let hits = findings.filter { $0.symptom == rule.name }
            guard let first = hits.first else { return nil }
            return SymptomSummary(name: rule.name, epochs: hits.map(\.epoch), firstDetail: first.detail,
                                  definition: rule.definition, source: rule.source)
        }
        let jumps = Set(findings.filter { $0.symptom == "spike" }.map(\.epoch))
        let nonFiniteLoss = Set(history.filter { !($0.values["loss"]?.isFinite ?? true) }.map(\.epoch))
        for i in epochs.indices {
            var flags: [String] = []
            if jumps.contains(epochs[i].epoch) { flags.append("jump") }
            if epochs[i].nanCount + epochs[i].infCount > 0 || nonFiniteLoss.contains(epochs[i].epoch) { flags.append("nan") }
            let grew = epochs[i].largestGrowth.map { $0.ratio > options.explosion.normRatio } ?? false
            let tooLarge = options.explosion.maxAbs.map { (epochs[i].largestAbs ?? 0) > $0 } ?? false
            if grew || tooLarge { flags.append("explosion") }
            if CheckpointName.isStoppedState((epochs[i].file as NSString).lastPathComponent) { flags.append("mid-epoch") }
            epochs[i].flags = flags
        }
        firstJumpEpoch = jumps.min()
        let nanCheckpoints = epochs.filter { $0.nanCount + $0.infCount > 0 }.map(\.epoch)
        firstNaNEpoch = (nanCheckpoints + Array(nonFiniteLoss)).min()
        firstExplosionEpoch = epochs.first { $0.flags.contains("explosion") }?.epoch
        let riseStart = symptoms.first { $0.name == "sustained-rise" }.map { rise in
            history.filter { $0.epoch <= rise.firstEpoch }.suffix((rules.first { $0.name == "sustained-rise" } as? SustainedRise)?.epochs ?? 3).first?.epoch ?? rise.firstEpoch
        }
        firstProblemEpoch = [firstJumpEpoch, firstNaNEpoch, firstExplosionEpoch, riseStart].compactMap { $0 }.min()
        let cutoff = firstProblemEpoch.map { Self.bestBefore($0, history: history) } ?? .max
        // A stopped state (mid-epoch, no run state) is never the checkpoint to resume from.
        lastHealthy = epochs.last { $0.epoch <= cutoff && $0.nanCount + $0.infCount == 0 && !$0.flags.contains("mid-epoch") }
    }

    /// The epoch of the best loss before `problem` (the reference the spike rule measures it
    /// against), so a replay from there holds the whole climb; `problem - 1` without a history.
    static func bestBefore(_ problem: Int, history: [HistoryRow]) -> Int {
        history.filter { $0.epoch < problem }.compactMap { row in row.values["loss"].map { (row.epoch, $0) } }
            .filter { $0.1.isFinite }.min { $0.1 < $1.1 }?.0 ?? problem - 1
    }
}

/// One symptom over a run: the epochs it held at, what it said first, and its rule.
public struct SymptomSummary: Sendable {
    public var name: String
    public var epochs: [Int]
    public var firstDetail: String
    public var definition: String
    public var source: String
    public var firstEpoch: Int { epochs[0] }

    /// `35-37, 40`: the epochs as runs of consecutive numbers.
    public var epochRanges: String {
        var parts: [String] = []
        var start = epochs[0], previous = epochs[0]
        for epoch in epochs.dropFirst() + [Int.min] {
            if epoch == previous + 1 { previous = epoch; continue }
            parts.append(start == previous ? "\(start)" : "\(start)-\(previous)")
            start = epoch
            previous = epoch
        }
        return parts.joined(separator: ", ")
    }
}
