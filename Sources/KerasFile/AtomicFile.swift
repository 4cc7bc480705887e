import Foundation

/// Writes a file so that `path` is either untouched or complete: the content goes to a hidden
/// temporary file beside it, is flushed to disk, and is renamed over `path` in one step.
public enum AtomicFile {
    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw KerasFileError(path, "cannot be written: folder \(directory) does not exist")
        }
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        do {
            try body(temporary)
            try syncFile(temporary, path: path)
            guard rename(temporary, path) == 0 else {
                throw KerasFileError(path, "cannot be written: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            if let error = error as? KerasFileError { throw error }
            throw KerasFileError(path, "cannot be written: \(error)")
        }
    }

    private static func syncFile(_ temporary: String, path: String) throws {
        let fd = open(temporary, O_RDONLY)
        guard fd >= 0 else { throw KerasFileError(path, "cannot be written: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw KerasFileError(path, "cannot be written: \(String(cString: strerror(errno)))") }
    }
}
