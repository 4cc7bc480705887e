import Foundation
import KerasFile

/// The folder a run writes its checkpoints into, opened before the first epoch so that an
/// unusable folder is reported at once, not after an epoch's work, and held (locked) for as
/// long as the run writes into it.
///
/// Runs never overwrite each other: a new run needs an empty folder, a run continued in its
/// own folder needs that nothing after its starting epoch is there, and one process at a time
/// writes a folder (an exclusive `flock` on `.relapse.lock`, which the kernel releases when the
/// process ends, SIGKILL included). `overwrite` replaces what is in the way instead of refusing.
public final class CheckpointFolder {
    public enum Start: Sendable, Equatable {
        /// A new run (`train`, or a resume into a branch folder): the folder must be absent or
        /// empty; with `overwrite`, the checkpoints, `best.h5`, `history.csv` and `branch.json`
        /// of the run that was there are removed first.
        case newRun
        /// Continuing the run in this folder from its checkpoint of `epoch`: no checkpoint after
        /// `epoch` may be there; with `overwrite`, those are removed first, and a `best.h5` from
        /// after `epoch` is replaced by the checkpoint of `bestEpoch` (or removed).
        case continuing(epoch: Int, bestEpoch: Int?)
    }

    public let path: String
    private let lock: Int32

    /// The lock file; it stays in the folder (removing it would let two writers each lock a
    /// different file of that name).
    public static let lockName = ".relapse.lock"

    private init(path: String, lock: Int32) {
        self.path = path
        self.lock = lock
    }

    deinit { close(lock) }

    /// Creates `directory` (and its parents) if needed, checks that files can be made in it,
    /// takes its lock, removes the temporary files that writers killed mid-write left, and
    /// checks (or, with `overwrite`, clears) what `start` needs.
    public static func open(_ directory: String, start: Start, overwrite: Bool) throws -> CheckpointFolder {
        try makeFolders(directory)
        guard access(directory, W_OK | X_OK) == 0 else {
            throw KerasFileError(directory, "cannot hold checkpoints: \(String(cString: strerror(errno)))")
        }
        let lock = try takeLock(directory)
        let folder = CheckpointFolder(path: directory, lock: lock)
        removeStaleTemporaries(in: directory)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0 != lockName && AtomicFile.temporaryWriter(named: $0) == nil }.sorted()
        switch start {
        case .newRun:
            guard !names.isEmpty else { break }
            guard overwrite else {
                throw KerasFileError(directory, "is not empty (it holds \(listing(names))); a new run needs an empty folder: choose another --checkpoints folder, or give --overwrite to replace the run there")
            }
            for name in names where isRunFile(name) { try remove(directory + "/" + name) }
        case let .continuing(epoch, bestEpoch):
            let later = names.filter { (Self.epoch(ofCheckpoint: $0) ?? 0) > epoch }
            guard !later.isEmpty else { break }
            guard overwrite else {
                throw KerasFileError(directory, "holds checkpoints after epoch \(epoch) (\(listing(later))); continuing here would replace them: leave out --checkpoints to write a new branch folder, or give --overwrite to replace them")
            }
            for name in later { try remove(directory + "/" + name) }
            try restoreBest(in: directory, before: epoch, bestEpoch: bestEpoch)
        }
        // The holder's pid, for the message a second writer gets; written only now, so a
        // writer refused above leaves the folder exactly as it found it.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(lock, 0)
        _ = pwrite(lock, text, text.count, 0)
        return folder
    }

    /// The epoch of `epoch-NNNN.h5` or of a stopped state `epoch-NNNN-nan-batch-BBBB.h5`
    /// (`.keras` for runs in Keras 3's format).
    static func epoch(ofCheckpoint name: String) -> Int? {
        guard name.hasPrefix("epoch-"), let ext = [".h5", ".keras"].first(where: { name.hasSuffix($0) }) else { return nil }
        let digits = name.dropFirst(6).prefix { $0.isNumber }
        let rest = name.dropFirst(6 + digits.count)
        guard !digits.isEmpty, rest == ext || rest.hasPrefix("-nan-batch-") else { return nil }
        return Int(digits)
    }

    /// The files a run writes (and `--overwrite` removes): nothing else is deleted.
    static func isRunFile(_ name: String) -> Bool {
        epoch(ofCheckpoint: name) != nil || ["best.h5", "best.keras", "history.csv", BranchRecord.fileName].contains(name)
    }

    private static func listing(_ names: [String]) -> String {
        names.count <= 3 ? names.joined(separator: ", ") : names.prefix(2).joined(separator: ", ") + ", ... \(names.last!), \(names.count) entries"
    }

    private static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw KerasFileError(path, "cannot be replaced: \(String(cString: strerror(errno)))")
        }
    }

    /// `best.h5` must not come from the epochs being replaced: the best checkpoint up to the
    /// starting epoch takes its place when it is in the folder (it is the same file a run
    /// writes as best.h5); otherwise the next improvement writes it.
    private static func restoreBest(in directory: String, before epoch: Int, bestEpoch: Int?) throws {
        for format in [ModelFileFormat.h5, .keras] {
            let best = directory + "/best." + format.fileExtension
            guard FileManager.default.fileExists(atPath: best) else { continue }
            let recorded = (try? KerasModel.loadFullModel(best).relapseState).flatMap { try? RunState.parse($0) }
            if let recorded, recorded.epoch <= epoch { continue }
            try remove(best)
            if let bestEpoch, let bytes = FileManager.default.contents(atPath: directory + "/" + TrainingRun.checkpointName(bestEpoch, format: format)) {
                try AtomicFile.write(to: best) { try bytes.write(to: URL(fileURLWithPath: $0)) }
            }
        }
    }

    private static func makeFolders(_ directory: String) throws {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            var info = stat()
            if stat(prefix, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw KerasFileError(directory, "cannot hold checkpoints: \(prefix) is a file, not a folder")
                }
                continue
            }
            guard mkdir(prefix, 0o755) == 0 || errno == EEXIST else {
                throw KerasFileError(directory, "cannot hold checkpoints: cannot create \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// One writer per folder: an exclusive, non-blocking flock on the lock file, which records
    /// the holder's pid for the message a second writer gets.
    private static func takeLock(_ directory: String) throws -> Int32 {
        let path = directory + "/" + lockName
        let descriptor = Foundation.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard descriptor >= 0 else {
            throw KerasFileError(directory, "cannot hold checkpoints: cannot open its lock file \(lockName): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw KerasFileError(directory, "cannot hold checkpoints: its lock file \(lockName) is not a regular file")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, buffer.count, 0)
            close(descriptor)
            guard reason == EWOULDBLOCK else {
                throw KerasFileError(directory, "cannot hold checkpoints: cannot lock \(lockName): \(String(cString: strerror(reason)))")
            }
            let holder = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            throw KerasFileError(directory, "is being written by another relapse process\(Int(holder).map { " (pid \($0))" } ?? ""); one writer per folder: wait for it, or choose another --checkpoints folder")
        }
        return descriptor
    }

    /// `AtomicFile` writes `.NAME.relapse-tmp.PID.RANDOM` beside NAME; one whose process is
    /// gone was interrupted (SIGKILL, power loss) and will never be renamed into place. Files
    /// without Relapse's mark, however similar, are left alone.
    static func removeStaleTemporaries(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where AtomicFile.staleTemporaryWriter(named: name) != nil {
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            unlink(directory + "/" + name)
        }
    }
}

/// `branch.json` in a branch's folder: the checkpoint it forked from, its epoch, and what the
/// resume changed. The branch's checkpoints and `history.csv` also hold the parent's history
/// up to the fork (a resumed run carries its whole history), so each branch reads as a whole
/// run; this file says where it left its parent, for `scan` and for people.
public struct BranchRecord: Sendable, Equatable {
    public static let fileName = "branch.json"

    /// The parent checkpoint as given to `resume`, and as an absolute path.
    public var parent: String
    public var epoch: Int
    public var changes: [String]

    public init(parent: String, epoch: Int, changes: [String]) {
        self.parent = parent
        self.epoch = epoch
        self.changes = changes
    }

    public func write(in directory: String) throws {
        let json = JSONValue.object([
            ("parent", .string(parent)), ("epoch", .int(epoch)), ("changes", .array(changes.map { .string($0) })),
        ])
        try AtomicFile.write(to: directory + "/" + Self.fileName) {
            try (json.serialized() + "\n").write(toFile: $0, atomically: false, encoding: .utf8)
        }
    }

    /// The record in `directory`, if there is a readable one.
    public static func read(in directory: String) -> BranchRecord? {
        let path = directory + "/" + fileName
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size < 1 << 20,
              let text = try? String(contentsOfFile: path, encoding: .utf8),
              let json = try? JSONValue.parse(text),
              let parent = json["parent"]?.stringValue, let epoch = json["epoch"]?.intValue else { return nil }
        let changes = json["changes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return BranchRecord(parent: parent, epoch: epoch, changes: changes)
    }
}
