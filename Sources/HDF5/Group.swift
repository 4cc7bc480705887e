import Budget
import CHDF5
import Foundation

/// An HDF5 group: named children (groups and datasets) plus attributes.
public final class Group: Node, @unchecked Sendable {
    public enum ChildKind: Sendable { case group, dataset, other }

    /// The names of the direct children, in name order.
    public func childNames() throws -> [String] {
        try Library.run {
            final class Box { var names: [String] = [] }
            let box = Box()
            var index: hsize_t = 0
            let status = H5Literate(handle.id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, context in
                if let name, let context {
                    Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
                }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
            if status < 0 { throw HDF5Error.fromStack("cannot list the members of \(path)") }
            return box.names
        }
    }

    /// What the object at a relative path is, or nil if nothing is there.
    /// Each path component is checked in turn, since libhdf5 fails on a missing intermediate.
    public func kind(of relativePath: String) -> ChildKind? {
        Library.run {
            var prefix = ""
            for component in relativePath.split(separator: "/", omittingEmptySubsequences: true) {
                prefix += (prefix.isEmpty ? "" : "/") + component
                guard H5Lexists(handle.id, prefix, relapse_H5P_DEFAULT()) > 0 else { return nil }
            }
            guard !prefix.isEmpty else { return nil }
            var info = H5O_info_t()
            guard H5Oget_info_by_name2(handle.id, prefix, &info, UInt32(H5O_INFO_BASIC), relapse_H5P_DEFAULT()) >= 0 else {
                H5Eclear2(relapse_H5E_DEFAULT())
                return nil
            }
            switch info.type {
            case H5O_TYPE_GROUP: return .group
            case H5O_TYPE_DATASET: return .dataset
            default: return .other
            }
        }
    }

    public func hasGroup(_ relativePath: String) -> Bool { kind(of: relativePath) == .group }
    public func hasDataset(_ relativePath: String) -> Bool { kind(of: relativePath) == .dataset }

    public func group(_ relativePath: String) throws -> Group {
        guard hasGroup(relativePath) else { throw HDF5Error("no group '\(relativePath)' in \(path)") }
        return try Library.run {
            let id = try Library.check("cannot open group '\(relativePath)' in \(path)") {
                H5Gopen2(handle.id, relativePath, relapse_H5P_DEFAULT())
            }
            return Group(handle: Handle(id, close: H5Gclose), path: join(relativePath))
        }
    }

    public func dataset(_ relativePath: String) throws -> Dataset {
        guard hasDataset(relativePath) else { throw HDF5Error("no dataset '\(relativePath)' in \(path)") }
        return try Library.run {
            let id = try Library.check("cannot open dataset '\(relativePath)' in \(path)") {
                H5Dopen2(handle.id, relativePath, relapse_H5P_DEFAULT())
            }
            return Dataset(handle: Handle(id, close: H5Dclose), path: join(relativePath))
        }
    }

    /// Creates a group, and any missing groups on the way to it (as h5py does for "a/b/c").
    @discardableResult
    public func createGroup(_ relativePath: String) throws -> Group {
        try Library.run {
            let what = "cannot create group '\(relativePath)' in \(path)"
            let linkProperties = Handle(try Library.check(what) { H5Pcreate(relapse_H5P_LINK_CREATE()) }, close: H5Pclose)
            try Library.check(what) { H5Pset_create_intermediate_group(linkProperties.id, 1) }
            let id = try Library.check(what) {
                H5Gcreate2(handle.id, relativePath, linkProperties.id, relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT())
            }
            return Group(handle: Handle(id, close: H5Gclose), path: join(relativePath))
        }
    }

    /// Writes a contiguous dataset, as h5py does without options; missing parent groups are made.
    @discardableResult
    public func createDataset(_ relativePath: String, values: NumericArray) throws -> Dataset {
        try Library.run {
            let what = "cannot create dataset '\(relativePath)' in \(path)"
            let linkProperties = Handle(try Library.check(what) { H5Pcreate(relapse_H5P_LINK_CREATE()) }, close: H5Pclose)
            try Library.check(what) { H5Pset_create_intermediate_group(linkProperties.id, 1) }
            let space = try Node.makeSpace(values.shape, scalar: values.shape.isEmpty, what: what)
            let id = try Library.check(what) {
                H5Dcreate2(handle.id, relativePath, values.elementType.fileType, space.id, linkProperties.id,
                           relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT())
            }
            let dataset = Dataset(handle: Handle(id, close: H5Dclose), path: join(relativePath))
            if values.count > 0 {
                var bytes = values.bytes
                try Library.check(what) {
                    H5Dwrite(id, values.elementType.nativeType, relapse_H5S_ALL(), relapse_H5S_ALL(), relapse_H5P_DEFAULT(), &bytes)
                }
            }
            return dataset
        }
    }

    private func join(_ relativePath: String) -> String {
        path == "/" ? "/" + relativePath : path + "/" + relativePath
    }
}

/// An HDF5 dataset of numbers.
public final class Dataset: Node, @unchecked Sendable {
    public func shape() throws -> [Int] {
        try Library.run {
            let what = "cannot read the shape of \(path)"
            let space = Handle(try Library.check(what) { H5Dget_space(handle.id) }, close: H5Sclose)
            return try Node.extent(of: space.id, what: what).dims
        }
    }

    public func elementType() throws -> ElementType {
        try Library.run {
            let type = Handle(try Library.check("cannot read the type of \(path)") { H5Dget_type(handle.id) }, close: H5Tclose)
            guard let elementType = ElementType.of(type: type.id) else {
                throw HDF5Error("\(path) holds \(ElementType.describe(type: type.id)), which Relapse does not read (float32, float64 and integers of 8 to 64 bits)")
            }
            return elementType
        }
    }

    /// The most bytes a read of this dataset may allocate: stored whole (contiguous or
    /// compact, as Keras and h5py write), no more than the file; chunked (perhaps compressed),
    /// no more than deflate's best ratio (about 1032:1) allows for the bytes actually stored,
    /// plus 1 MiB: a 1.6 KB file whose unwritten chunks claim 2^24 samples (read as fill
    /// values) is refused, not allocated. Either way no more than `MemoryBudget`.
    private func readLimit(claimed: Int) throws -> Int {
        try Library.run {
            let properties = Handle(try Library.check("cannot read \(path)") { H5Dget_create_plist(handle.id) }, close: H5Pclose)
            if H5Pget_layout(properties.id) == H5D_CHUNKED {
                let stored = Int(clamping: H5Dget_storage_size(handle.id))
                let (ratio, overflow) = stored.multipliedReportingOverflow(by: 1100)
                let plausible = overflow ? Int.max : ratio + (1 << 20)
                if claimed > plausible {
                    throw HDF5Error("cannot read \(path): its shape claims \(claimed) bytes but the file stores only \(stored) for it (more than any compression gives)")
                }
                return Int.max
            }
            return try fileSize()
        }
    }

    /// Reads the whole dataset in its stored element type.
    public func read() throws -> NumericArray {
        try Library.run {
            let shape = try shape()
            let elementType = try elementType()
            guard let claimed = MemoryBudget.byteCount(shape, elementSize: elementType.byteSize) else {
                throw HDF5Error("cannot read \(path): its dimensions \(shape) overflow")
            }
            let count = try Node.elementCount(shape, elementSize: elementType.byteSize, limit: try readLimit(claimed: claimed),
                                              what: "cannot read \(path)")
            do {
                try MemoryBudget.check("dataset \(path) of shape \(shape)", bytes: claimed)
            } catch let error as ResourceError {
                throw HDF5Error(error.message)
            }
            var bytes = [UInt8](repeating: 0, count: count * elementType.byteSize)
            if count > 0 {
                try Library.check("cannot read \(path)") {
                    H5Dread(handle.id, elementType.nativeType, relapse_H5S_ALL(), relapse_H5S_ALL(), relapse_H5P_DEFAULT(), &bytes)
                }
            }
            return NumericArray(shape: shape, elementType: elementType, bytes: bytes)
        }
    }
}
