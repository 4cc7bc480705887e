import Foundation
import KerasFile

/// The folder a run writes its checkpoints into, checked before the first epoch so that an
/// unusable folder is reported at once, not after an epoch's work.
enum CheckpointFolder {
    /// Creates `directory` (and its parents) if needed, checks that files can be made in it,
    /// and removes the temporary files (`.NAME.tmp-PID`) that writers killed mid-write left.
    static func prepare(_ directory: String) throws {
        try makeFolders(directory)
        guard access(directory, W_OK | X_OK) == 0 else {
            throw KerasFileError(directory, "cannot hold checkpoints: \(String(cString: strerror(errno)))")
        }
        removeStaleTemporaries(in: directory)
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

    /// `AtomicFile` writes `.NAME.tmp-PID` beside NAME; one whose process is gone was
    /// interrupted (SIGKILL, power loss) and will never be renamed into place.
    static func removeStaleTemporaries(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".") {
            guard let range = name.range(of: ".tmp-", options: .backwards),
                  let pid = pid_t(name[range.upperBound...]), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH {
                unlink(directory + "/" + name)
            }
        }
    }
}
