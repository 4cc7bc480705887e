import CHDF5
import Foundation

/// Something in an HDF5 file that carries attributes: a group (the file's root included) or a
/// dataset. Holds its file open for as long as it lives.
public class Node: @unchecked Sendable {
    let handle: Handle
    /// The path within the file, for messages.
    public let path: String

    init(handle: Handle, path: String) {
        self.handle = handle
        self.path = path
    }

    // MARK: Reading attributes

    public func attributeNames() throws -> [String] {
        try Library.run {
            var names: [String] = []
            final class Box { var names: [String] = [] }
            let box = Box()
            var index: hsize_t = 0
            let status = H5Aiterate2(handle.id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, context in
                if let name, let context {
                    Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
                }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
            if status < 0 { throw HDF5Error.fromStack("cannot list the attributes of \(path)") }
            names = box.names
            return names
        }
    }

    public func hasAttribute(_ name: String) -> Bool {
        Library.run { H5Aexists(handle.id, name) > 0 }
    }

    /// Reads attribute `name`; nil if there is none.
    public func attribute(_ name: String) throws -> AttributeValue? {
        try Library.run {
            guard H5Aexists(handle.id, name) > 0 else { return nil }
            let what = "cannot read attribute '\(name)' of \(path)"
            let attr = Handle(try Library.check(what) { H5Aopen(handle.id, name, relapse_H5P_DEFAULT()) }, close: H5Aclose)
            let type = Handle(try Library.check(what) { H5Aget_type(attr.id) }, close: H5Tclose)
            let space = Handle(try Library.check(what) { H5Aget_space(attr.id) }, close: H5Sclose)
            let (dims, isScalar) = try Self.extent(of: space.id, what: what)
            // A variable-length string is stored as a 16-byte reference into the global heap.
            let elementSize = H5Tget_class(type.id) == H5T_STRING && H5Tis_variable_str(type.id) > 0
                ? 16 : H5Tget_size(type.id)
            // Attribute data is stored whole in the file, so it cannot be larger than the file.
            let count = try Self.elementCount(dims, elementSize: elementSize, limit: fileSize(), what: what)

            if H5Tget_class(type.id) == H5T_STRING {
                let charset: StringCharset = H5Tget_cset(type.id) == H5T_CSET_UTF8 ? .utf8 : .ascii
                if H5Tis_variable_str(type.id) > 0 {
                    let values = try Self.readVariableStrings(attr: attr.id, fileType: type.id, count: count, what: what)
                    return .strings(values, storage: .variable, charset: charset, isScalar: isScalar)
                }
                let length = H5Tget_size(type.id)
                var buffer = [UInt8](repeating: 0, count: max(1, length * count))
                try Library.check(what) { H5Aread(attr.id, type.id, &buffer) }
                let values = (0..<count).map { i -> String in
                    var bytes = Array(buffer[(i * length)..<((i + 1) * length)])
                    if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
                    if H5Tget_strpad(type.id) == H5T_STR_SPACEPAD {
                        while bytes.last == 0x20 { bytes.removeLast() }
                    }
                    return String(decoding: bytes, as: UTF8.self)
                }
                return .strings(values, storage: .fixed(length: length), charset: charset, isScalar: isScalar)
            }

            guard let elementType = ElementType.of(type: type.id) else {
                throw HDF5Error("\(what): unsupported attribute type")
            }
            var bytes = [UInt8](repeating: 0, count: count * elementType.byteSize)
            if count > 0 {
                try Library.check(what) { H5Aread(attr.id, elementType.nativeType, &bytes) }
            }
            return .numbers(NumericArray(shape: dims, elementType: elementType, bytes: bytes), isScalar: isScalar)
        }
    }

    private static func readVariableStrings(attr: hid_t, fileType: hid_t, count: Int, what: String) throws -> [String] {
        guard count > 0 else { return [] }
        let memType = Handle(try Library.check(what) { H5Tcopy(relapse_H5T_C_S1()) }, close: H5Tclose)
        try Library.check(what) { H5Tset_size(memType.id, relapse_H5T_VARIABLE()) }
        try Library.check(what) { H5Tset_cset(memType.id, H5Tget_cset(fileType)) }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        defer {
            // H5Treclaim is not exported by Debian's 1.10 build; each string is its own block.
            // Freed on failure too: a read that fails part way has allocated the strings before
            // (a leak the fuzzer found).
            for pointer in pointers where pointer != nil { H5free_memory(pointer) }
        }
        try Library.check(what) { H5Aread(attr, memType.id, &pointers) }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }

    /// The dimensions of a dataspace, and whether it is a scalar (rank 0) space.
    static func extent(of space: hid_t, what: String) throws -> (dims: [Int], isScalar: Bool) {
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR:
            return ([], true)
        case H5S_NULL:
            return ([0], false)
        default:
            let rank = Int(try Library.check(what) { H5Sget_simple_extent_ndims(space) })
            guard rank <= 32 else { throw HDF5Error("\(what): rank \(rank) is more than HDF5 allows") }
            var dims = [hsize_t](repeating: 0, count: rank)
            try Library.check(what) { H5Sget_simple_extent_dims(space, &dims, nil) }
            return (try dims.map { dim in
                guard let value = Int(exactly: dim), value <= Int(Int32.max) * 64 else {
                    throw HDF5Error("\(what): a dimension of \(dim) is not believable")
                }
                return value
            }, false)
        }
    }

    /// The number of elements of `dims`, refusing counts whose bytes (`elementSize` each)
    /// overflow or exceed `limit`: a corrupt header must not make us allocate absurd buffers.
    static func elementCount(_ dims: [Int], elementSize: Int, limit: Int, what: String) throws -> Int {
        var count = 1
        for dim in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw HDF5Error("\(what): its dimensions \(dims) overflow") }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: max(elementSize, 1))
        guard !overflow, bytes <= limit else {
            throw HDF5Error("\(what): its dimensions \(dims) claim more data than the file holds")
        }
        return count
    }

    /// The size of the file this object lives in, in bytes.
    func fileSize() throws -> Int {
        try Library.run {
            let what = "cannot find the file of \(path)"
            let file = Handle(try Library.check(what) { H5Iget_file_id(handle.id) }, close: H5Fclose)
            var size: hsize_t = 0
            try Library.check(what) { H5Fget_filesize(file.id, &size) }
            return Int(clamping: size)
        }
    }

    // MARK: Convenience readers

    /// A string attribute read whole, or nil if absent or not a string.
    public func stringAttribute(_ name: String) throws -> String? {
        try attribute(name)?.string
    }

    // MARK: Writing attributes

    /// Writes (replacing) a string attribute in the given form.
    public func setAttribute(_ name: String, strings: [String], storage: StringStorage = .variable,
                             charset: StringCharset = .ascii, isScalar: Bool = false) throws {
        precondition(!isScalar || strings.count == 1, "a scalar attribute holds one string")
        try Library.run {
            let what = "cannot write attribute '\(name)' of \(path)"
            try deleteAttribute(name)
            let type = Handle(try Library.check(what) { H5Tcopy(relapse_H5T_C_S1()) }, close: H5Tclose)
            switch storage {
            case .variable:
                try Library.check(what) { H5Tset_size(type.id, relapse_H5T_VARIABLE()) }
            case .fixed(let length):
                try Library.check(what) { H5Tset_size(type.id, max(1, length)) }
                try Library.check(what) { H5Tset_strpad(type.id, H5T_STR_NULLPAD) }
            }
            try Library.check(what) { H5Tset_cset(type.id, charset == .utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) }
            let space = try Self.makeSpace(isScalar ? [] : [strings.count], scalar: isScalar, what: what)
            let attr = Handle(try Library.check(what) {
                H5Acreate2(handle.id, name, type.id, space.id, relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT())
            }, close: H5Aclose)
            switch storage {
            case .variable:
                let cStrings = strings.map { strdup($0) }
                defer { cStrings.forEach { free($0) } }
                var pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
                try Library.check(what) { H5Awrite(attr.id, type.id, &pointers) }
            case .fixed(let length):
                var buffer = [UInt8](repeating: 0, count: max(1, length) * strings.count)
                for (i, s) in strings.enumerated() {
                    let bytes = Array(s.utf8.prefix(length))
                    buffer.replaceSubrange((i * length)..<(i * length + bytes.count), with: bytes)
                }
                if !strings.isEmpty {
                    try Library.check(what) { H5Awrite(attr.id, type.id, &buffer) }
                }
            }
        }
    }

    /// Writes (replacing) a numeric attribute.
    public func setAttribute(_ name: String, numbers: NumericArray, isScalar: Bool = false) throws {
        try Library.run {
            let what = "cannot write attribute '\(name)' of \(path)"
            try deleteAttribute(name)
            let space = try Self.makeSpace(numbers.shape, scalar: isScalar, what: what)
            let attr = Handle(try Library.check(what) {
                H5Acreate2(handle.id, name, numbers.elementType.fileType, space.id, relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT())
            }, close: H5Aclose)
            if numbers.count > 0 {
                var bytes = numbers.bytes
                try Library.check(what) { H5Awrite(attr.id, numbers.elementType.nativeType, &bytes) }
            }
        }
    }

    /// Writes an attribute value in exactly the form it was read.
    public func setAttribute(_ name: String, value: AttributeValue) throws {
        switch value {
        case let .strings(values, storage, charset, isScalar):
            try setAttribute(name, strings: values, storage: storage, charset: charset, isScalar: isScalar)
        case let .numbers(array, isScalar):
            try setAttribute(name, numbers: array, isScalar: isScalar)
        }
    }

    public func deleteAttribute(_ name: String) throws {
        try Library.run {
            guard H5Aexists(handle.id, name) > 0 else { return }
            try Library.check("cannot delete attribute '\(name)' of \(path)") { H5Adelete(handle.id, name) }
        }
    }

    static func makeSpace(_ dims: [Int], scalar: Bool, what: String) throws -> Handle {
        if scalar {
            return Handle(try Library.check(what) { H5Screate(H5S_SCALAR) }, close: H5Sclose)
        }
        let sizes = dims.map { hsize_t($0) }
        return Handle(try Library.check(what) { H5Screate_simple(Int32(sizes.count), sizes, nil) }, close: H5Sclose)
    }
}
