import CHDF5
import Foundation

/// An open HDF5 file. Its root group is `root`; objects opened from it keep it alive.
public final class File: @unchecked Sendable {
    public let path: String
    public let root: Group
    private let handle: Handle

    private init(path: String, handle: Handle) {
        self.path = path
        self.handle = handle
        self.root = Group(handle: handle, path: "/")
    }

    /// True if `path` names a readable HDF5 file (checks the signature, opens nothing). A FIFO
    /// or device is not one (reading it could block forever).
    public static func isHDF5(_ path: String) -> Bool {
        guard RegularFile.problem(path) == nil else { return false }
        return Library.run {
            let result = H5Fis_hdf5(path)
            if result < 0 { H5Eclear2(relapse_H5E_DEFAULT()) }
            return result > 0
        }
    }

    /// Opens an existing file; refuses anything but a regular file (a FIFO would block), and a
    /// file that reaches outside itself (`Containment`).
    public static func open(_ path: String, writable: Bool = false) throws -> File {
        if let problem = RegularFile.problem(path) {
            throw HDF5Error("\(path) \(problem)")
        }
        if let problem = GlobalHeapCheck.problem(inFileAt: path) {
            throw HDF5Error("cannot open \(path) as HDF5: \(problem)")
        }
        return try Library.run {
            CrashGuard.reading(path)
            let flags = writable ? relapse_H5F_ACC_RDWR() : relapse_H5F_ACC_RDONLY()
            let id = try Library.check("cannot open \(path) as HDF5") { H5Fopen(path, flags, relapse_H5P_DEFAULT()) }
            let file = File(path: path, handle: Handle(id, close: H5Fclose))
            if let problem = Containment.problem(inFile: id) {
                throw HDF5Error("reaches outside itself: \(problem)")
            }
            return file
        }
    }

    /// Creates a new file, replacing any file at `path`.
    public static func create(_ path: String) throws -> File {
        try Library.run {
            let id = try Library.check("cannot create \(path)") {
                H5Fcreate(path, relapse_H5F_ACC_TRUNC(), relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT())
            }
            return File(path: path, handle: Handle(id, close: H5Fclose))
        }
    }

    /// Writes everything buffered to disk.
    public func flush() throws {
        try Library.check("cannot write \(path)") { H5Fflush(handle.id, H5F_SCOPE_GLOBAL) }
    }
}
