import CCleanup
import Foundation

/// Writes a file so that `path` is either untouched or complete: the content goes to a hidden
/// temporary file beside it, is flushed to disk, and is renamed over `path` in one step.
///
/// The temporary, `.NAME.relapse-tmp.PID.RANDOM`, is created exclusively (`O_CREAT | O_EXCL |
/// O_NOFOLLOW`, mode 600, an unpredictable suffix), so nothing planted at that name (a
/// symbolic link, a FIFO) is ever written through; it is removed on failure, and by the
/// signal handlers of `CCleanup` when SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the process.
/// Only SIGKILL (or a power loss) can leave one; `staleTemporaryWriter(named:)` recognises
/// those for the sweep of a later run. A file replaced keeps its permission bits; a new one
/// gets 666 less the umask. Only regular files are replaced: a folder, FIFO, device or
/// socket at `path` is refused. A symbolic link at `path` is replaced by the file (its target
/// is not touched).
public enum AtomicFile {
    /// Relapse's mark in its temporary files' names, between NAME and the writer's pid.
    public static let marker = ".relapse-tmp."

    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw KerasFileError(path, "cannot be written: folder \(directory) does not exist")
        }
        let mode = try modeForReplacing(path)
        let (temporary, descriptor, slot) = try createTemporary(in: directory, for: url.lastPathComponent, path: path)
        // Forgotten only after the rename: a signal in between unlinks a name that is gone.
        defer {
            relapse_cleanup_remove(slot)
            close(descriptor)
        }
        do {
            try body(temporary)
            try check(fchmod(descriptor, mode), path)
            try check(fsync(descriptor), path)
            try check(rename(temporary, path), path)
        } catch {
            unlink(temporary)
            if let error = error as? KerasFileError { throw error }
            throw KerasFileError(path, "cannot be written: \(error)")
        }
        // The rename itself survives a power loss once the folder is on disk too.
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// Runs `body` with a private scratch file, `.NAME.relapse-tmp.PID.RANDOM` in `directory`
    /// (created exclusively, mode 600, registered with `CCleanup`'s signal handlers before it
    /// exists), and removes it when `body` returns or throws. `body` may unlink it earlier
    /// (a file libhdf5 holds open needs no name). A SIGKILL leaves a file the sweep of a later
    /// run recognises by its mark.
    public static func withScratchFile<T>(in directory: String, for name: String, path: String,
                                          _ body: (_ scratch: String, _ descriptor: Int32) throws -> T) throws -> T {
        let (scratch, descriptor, slot) = try createTemporary(in: directory, for: name, path: path, failure: "needs a scratch file")
        defer {
            unlink(scratch)
            relapse_cleanup_remove(slot)
            close(descriptor)
        }
        return try body(scratch, descriptor)
    }

    /// The system's temporary folder (`TMPDIR`, else /tmp).
    static var systemTemporaryFolder: String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    /// The pid of the Relapse process that wrote the temporary file `name`, if `name` is one
    /// (`.NAME.relapse-tmp.PID.RANDOM`); other hidden files, however similar, give nil.
    public static func temporaryWriter(named name: String) -> pid_t? {
        guard name.hasPrefix("."), let range = name.range(of: marker, options: .backwards),
              range.lowerBound > name.index(after: name.startIndex) else { return nil }
        let parts = name[range.upperBound...].split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 0, parts[1].count == suffixLength,
              parts[1].allSatisfy({ suffixAlphabet.contains($0) }) else { return nil }
        return pid
    }

    /// The writer of `name` (a temporary file per `temporaryWriter(named:)`) when that process
    /// no longer exists: the file will never be renamed into place.
    public static func staleTemporaryWriter(named name: String) -> pid_t? {
        guard let pid = temporaryWriter(named: name), pid != getpid() else { return nil }
        return kill(pid, 0) == -1 && errno == ESRCH ? pid : nil
    }

    // MARK: Pieces

    static let suffixLength = 10
    static let suffixAlphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// Permission bits for the file at `path`: those of the regular file it replaces, else 666
    /// less the umask. Anything but a regular file (or a link to one, or nothing) is refused.
    static func modeForReplacing(_ path: String) throws -> mode_t {
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else {
                throw KerasFileError(path, "cannot be written: \(String(cString: strerror(errno)))")
            }
            return 0o666 & ~umaskValue
        }
        if info.st_mode & S_IFMT == S_IFLNK {
            // The link is replaced; its target decides nothing but the mode, and is not touched.
            guard stat(path, &info) == 0 else { return 0o666 & ~umaskValue }
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw KerasFileError(path, "cannot be written: it is \(kindName(info.st_mode)), not a regular file (Relapse replaces only regular files)")
        }
        return info.st_mode & 0o7777
    }

    /// "a folder", "a FIFO", ...: what a non-regular file is, for messages.
    public static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// The temporary's path, descriptor and cleanup slot. The path is registered for removal
    /// before the file exists, so no signal finds it created but unknown (unlinking a name
    /// not yet there does nothing).
    private static func createTemporary(in directory: String, for name: String, path: String,
                                        failure: String = "cannot be written") throws -> (String, Int32, Int32) {
        // Keep the whole name under NAME_MAX (255 bytes) whatever NAME's length.
        var stem = name
        while stem.utf8.count > 200 { stem.removeLast() }
        for _ in 0..<100 {
            let suffix = String((0..<suffixLength).map { _ in suffixAlphabet.randomElement()! })
            let temporary = directory + "/." + stem + marker + "\(getpid())." + suffix
            let slot = relapse_cleanup_add(temporary)
            let descriptor = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if descriptor >= 0 { return (temporary, descriptor, slot) }
            let reason = errno
            relapse_cleanup_remove(slot)
            errno = reason
            guard errno == EEXIST else {
                throw KerasFileError(path, "\(failure): cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))")
            }
        }
        throw KerasFileError(path, "\(failure): no free temporary file name in \(directory)")
    }

    private static func check(_ result: Int32, _ path: String) throws {
        guard result == 0 else { throw KerasFileError(path, "cannot be written: \(String(cString: strerror(errno)))") }
    }

    /// The process's umask, read without changing it (Linux's /proc), else by setting and
    /// restoring it once, before any file is written.
    static let umaskValue: mode_t = {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
           let value = mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) {
            return value
        }
        let value = umask(0o022)
        umask(value)
        return value
    }()
}
