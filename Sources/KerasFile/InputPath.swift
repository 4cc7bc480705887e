import Foundation
import HDF5

/// Checks made before handing a path to libhdf5, so the user hears what is wrong in plain words.
enum InputPath {
    static func validate(_ path: String, requireHDF5: Bool = true) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            // stat's reason when it is not plain absence: a symbolic link loop, a component
            // that is a file, a permission on a folder on the way.
            var info = stat()
            if stat(path, &info) != 0, errno != ENOENT {
                throw KerasFileError(path, "cannot be read: \(String(cString: strerror(errno)))")
            }
            throw KerasFileError(path, "no such file")
        }
        guard !isDirectory.boolValue else { throw KerasFileError(path, "is a directory, not an .h5 file") }
        // A FIFO or device could block the read forever: refused before anything opens it.
        if let problem = RegularFile.problem(path) { throw KerasFileError(path, problem) }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw KerasFileError(path, "cannot be read (permission denied)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size > 0 else { throw KerasFileError(path, "is empty") }
        guard !requireHDF5 || File.isHDF5(path) else { throw KerasFileError(path, "is not an HDF5 file") }
    }
}
