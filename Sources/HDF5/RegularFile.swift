import Foundation

/// Relapse reads only regular files: a FIFO blocks the reader until someone writes to it (or
/// forever), a device can be endless, a folder is not a file. Checked before any open.
public enum RegularFile {
    /// nil when `path` is a regular file (through symbolic links); otherwise what is wrong, as
    /// the end of a sentence about the path: "does not exist", "is a FIFO, not a regular file".
    public static func problem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == ENOENT ? "does not exist" : "cannot be read: \(String(cString: strerror(errno)))"
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "is a folder, not a file"
        case S_IFIFO: return "is a FIFO, not a regular file"
        case S_IFCHR: return "is a character device, not a regular file"
        case S_IFBLK: return "is a block device, not a regular file"
        case S_IFSOCK: return "is a socket, not a regular file"
        default: return "is not a regular file"
        }
    }
}
