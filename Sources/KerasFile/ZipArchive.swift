import CZip
import Foundation

/// A zip archive read through libzip, with the checks a `.keras` file from a stranger needs:
/// libzip's consistency check on open, no member name that could escape a folder, no
/// duplicate names, and no member declaring far more bytes than it stores (a zip bomb).
/// Members are read one at a time, in chunks: nothing holds the archive in memory.
final class ZipArchive {
    struct Member {
        var name: String
        var index: UInt64
        var size: UInt64
        var compressedSize: UInt64
    }

    let path: String
    let members: [Member]
    private let handle: OpaquePointer

    /// Past this size a member must not claim more than `maxExpansion` times what it stores
    /// (Keras's own guard: saving_lib.py `_reject_zip_extract_bomb`, 256 MiB floor, 100x).
    static let bombFloor: UInt64 = 1 << 28
    static let maxExpansion: UInt64 = 100

    init(path: String) throws {
        self.path = path
        var code: Int32 = 0
        guard let handle = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code) else {
            throw KerasFileError(path, code == ZIP_ER_NOZIP
                ? "is neither an HDF5 file nor a zip archive (.keras)"
                : "is not a readable zip archive (\(Self.message(code)))")
        }
        self.handle = handle
        var members: [Member] = []
        var seen = Set<String>()
        let count = zip_get_num_entries(handle, 0)
        for index in 0..<UInt64(max(count, 0)) {
            var stat = zip_stat_t()
            zip_stat_init(&stat)
            guard zip_stat_index(handle, index, 0, &stat) == 0, let cName = stat.name else {
                zip_discard(handle)
                throw KerasFileError(path, "has an unreadable zip member (#\(index))")
            }
            let name = String(cString: cName)
            if let problem = Self.unsafeName(name) {
                zip_discard(handle)
                throw KerasFileError(path, "zip member '\(name)' \(problem) (path traversal); refused")
            }
            guard seen.insert(name).inserted else {
                zip_discard(handle)
                throw KerasFileError(path, "has two zip members named '\(name)'; refused")
            }
            if stat.size > Self.bombFloor, stat.size > Self.maxExpansion * stat.comp_size {
                zip_discard(handle)
                throw KerasFileError(path, "zip member '\(name)' claims \(stat.size) bytes but stores \(stat.comp_size) (a zip bomb); refused")
            }
            members.append(Member(name: name, index: index, size: stat.size, compressedSize: stat.comp_size))
        }
        self.members = members
    }

    deinit { zip_discard(handle) }

    /// Why a member name could write outside a folder it were extracted to, or nil.
    static func unsafeName(_ name: String) -> String? {
        if name.hasPrefix("/") || name.hasPrefix("\\") { return "is an absolute path" }
        if name.contains("\\") { return "contains a backslash" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 }) { return "contains a control character" }
        if name.count >= 2, name.dropFirst().first == ":" { return "names a drive" }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains("..") { return "climbs out with '..'" }
        return nil
    }

    func member(_ name: String) -> Member? { members.first { $0.name == name } }

    /// A member's whole content, refused past `limit` bytes (JSON members are small).
    func read(_ name: String, limit: UInt64) throws -> Data {
        guard let member = member(name) else { throw KerasFileError(path, "has no \(name) in the archive") }
        guard member.size <= limit else {
            throw KerasFileError(path, "zip member '\(name)' claims \(member.size) bytes, more than the \(limit) a \(name) may have; refused")
        }
        var data = Data(capacity: Int(member.size))
        try stream(member) { data.append(contentsOf: $0) }
        return data
    }

    /// Streams a member to `body` in chunks; the declared size and CRC are checked (libzip
    /// fails the last read on a CRC mismatch).
    func stream(_ member: Member, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let file = zip_fopen_index(handle, member.index, 0) else {
            throw KerasFileError(path, "zip member '\(member.name)' cannot be read (\(String(cString: zip_strerror(handle))))")
        }
        defer { zip_fclose(file) }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        while true {
            let n = zip_fread(file, buffer, UInt64(chunk))
            if n < 0 {
                throw KerasFileError(path, "zip member '\(member.name)' is damaged (\(String(cString: zip_file_strerror(file))))")
            }
            if n == 0 { break }
            total += UInt64(n)
            guard total <= member.size else {
                throw KerasFileError(path, "zip member '\(member.name)' holds more than the \(member.size) bytes it declares; refused")
            }
            try body(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
        }
        guard total == member.size else {
            throw KerasFileError(path, "zip member '\(member.name)' is truncated (\(total) of \(member.size) bytes)")
        }
    }

    /// Copies a member into the open file `descriptor` (a scratch file the caller owns).
    func extract(_ name: String, to descriptor: Int32, folder: String) throws {
        guard let member = member(name) else { throw KerasFileError(path, "has no \(name) in the archive") }
        try stream(member) { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                guard written > 0 else {
                    throw KerasFileError(path, "cannot extract \(name) to \(folder): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }

    static func message(_ code: Int32) -> String {
        var error = zip_error_t()
        zip_error_init_with_code(&error, code)
        defer { zip_error_fini(&error) }
        return String(cString: zip_error_strerror(&error))
    }

    /// True if the file starts with a zip local-header or end-of-archive signature.
    static func looksLikeZip(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 4)
        return head == Data([0x50, 0x4B, 0x03, 0x04]) || head == Data([0x50, 0x4B, 0x05, 0x06])
    }
}

/// Writes a zip archive of stored (uncompressed) members, as Keras writes `.keras` files.
///
/// The archive goes into a file Relapse already created (`AtomicFile`'s temporary), through a
/// libzip source of our own (`DescriptorSink`): opened on a file name, libzip's `zip_close`
/// writes a temporary `<name>.XXXXXX` of its own beside it and renames that into place
/// (`zip_source_file_create`'s write support), a file no signal handler of Relapse knows about
/// and one that a SIGINT in `zip_close` would leave behind.
enum ZipWriter {
    enum Content {
        case data(Data)
        case file(String)
    }

    /// `path` must exist (it is opened, never created): an `AtomicFile` temporary.
    static func write(to path: String, members: [(name: String, content: Content)]) throws {
        let descriptor = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw KerasFileError(path, "cannot be written: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let sink = DescriptorSink(descriptor: descriptor)
        try withExtendedLifetime(sink) {
            var error = zip_error_t()
            zip_error_init(&error)
            defer { zip_error_fini(&error) }
            let context = Unmanaged.passUnretained(sink).toOpaque()
            guard let source = zip_source_function_create(DescriptorSink.callback, context, &error) else {
                throw KerasFileError(path, "cannot be written as a zip archive (\(String(cString: zip_error_strerror(&error))))")
            }
            guard let archive = zip_open_from_source(source, ZIP_CREATE | ZIP_TRUNCATE, &error) else {
                zip_source_free(source)
                throw KerasFileError(path, "cannot be written as a zip archive (\(String(cString: zip_error_strerror(&error))))")
            }
            try add(members, to: archive, path: path)
        }
    }

    /// Adds the members and closes (writes) the archive; on failure the archive is discarded.
    private static func add(_ members: [(name: String, content: Content)], to archive: OpaquePointer, path: String) throws {
        // Buffers handed to libzip must live until zip_close.
        var buffers: [UnsafeMutableRawPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        func fail(_ what: String) -> KerasFileError {
            let error = KerasFileError(path, "cannot be written: \(what) (\(String(cString: zip_strerror(archive))))")
            zip_discard(archive)
            return error
        }
        for (name, content) in members {
            let source: OpaquePointer?
            switch content {
            case .data(let data):
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
                buffers.append(buffer)
                data.copyBytes(to: buffer.assumingMemoryBound(to: UInt8.self), count: data.count)
                source = zip_source_buffer(archive, buffer, UInt64(data.count), 0)
            case .file(let file):
                source = zip_source_file(archive, file, 0, 0)
            }
            guard let source else { throw fail("member \(name)") }
            let index = zip_file_add(archive, name, source, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE)
            guard index >= 0 else {
                zip_source_free(source)
                throw fail("member \(name)")
            }
            guard zip_set_file_compression(archive, UInt64(index), ZIP_CM_STORE, 0) == 0 else { throw fail("member \(name)") }
        }
        guard zip_close(archive) == 0 else { throw fail("closing the archive") }
    }
}

/// A write-only libzip source over an open descriptor, for `zip_open_from_source`: libzip's
/// source protocol (zip_source_function(3); the commands `zip_close` sends in lib/zip_close.c:
/// BEGIN_WRITE, WRITE, TELL_WRITE and SEEK_WRITE to go back and complete each local header,
/// then COMMIT_WRITE, or ROLLBACK_WRITE on failure; REMOVE for an archive left empty). Opening
/// requires a source that claims seekable reading too, but libzip reads only an archive that
/// exists, and STAT says this one does not (ZIP_ER_READ with ENOENT: `_zip_file_exists` in
/// lib/zip_open.c), so the reading commands answer "not supported" should anything ask.
/// The descriptor's owner fsyncs and renames the file.
final class DescriptorSink {
    let descriptor: Int32
    var error = zip_error_t()

    init(descriptor: Int32) {
        self.descriptor = descriptor
        zip_error_init(&error)
    }

    deinit { zip_error_fini(&error) }

    static let callback: zip_source_callback = { context, data, length, command in
        Unmanaged<DescriptorSink>.fromOpaque(context!).takeUnretainedValue().handle(data, length, command)
    }

    static let supported: [zip_source_cmd_t] = [
        ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
        ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_SUPPORTS, ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_COMMIT_WRITE,
        ZIP_SOURCE_ROLLBACK_WRITE, ZIP_SOURCE_WRITE, ZIP_SOURCE_SEEK_WRITE, ZIP_SOURCE_TELL_WRITE, ZIP_SOURCE_REMOVE,
    ]

    private func failed(_ code: Int32, _ system: Int32 = 0) -> Int64 {
        zip_error_set(&error, code, system)
        return -1
    }

    func handle(_ data: UnsafeMutableRawPointer?, _ length: UInt64, _ command: zip_source_cmd_t) -> Int64 {
        switch command {
        case ZIP_SOURCE_SUPPORTS:
            // ZIP_SOURCE_MAKE_COMMAND_BITMASK of each (the C macro).
            return Self.supported.reduce(Int64(0)) { $0 | (Int64(1) << Int64($1.rawValue)) }
        case ZIP_SOURCE_STAT:
            return failed(ZIP_ER_READ, ENOENT)
        case ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_ROLLBACK_WRITE, ZIP_SOURCE_REMOVE:
            guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else { return failed(ZIP_ER_WRITE, errno) }
            return 0
        case ZIP_SOURCE_WRITE:
            guard let data else { return failed(ZIP_ER_INVAL) }
            var offset = 0
            while offset < Int(length) {
                let written = Foundation.write(descriptor, data + offset, Int(length) - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return failed(ZIP_ER_WRITE, errno) }
                offset += written
            }
            return Int64(length)
        case ZIP_SOURCE_SEEK_WRITE:
            guard let data, length >= UInt64(MemoryLayout<zip_source_args_seek_t>.size) else { return failed(ZIP_ER_INVAL) }
            let seek = data.load(as: zip_source_args_seek_t.self)
            guard lseek(descriptor, off_t(seek.offset), seek.whence) >= 0 else { return failed(ZIP_ER_SEEK, errno) }
            return 0
        case ZIP_SOURCE_TELL_WRITE:
            let position = lseek(descriptor, 0, SEEK_CUR)
            return position >= 0 ? Int64(position) : failed(ZIP_ER_TELL, errno)
        case ZIP_SOURCE_COMMIT_WRITE, ZIP_SOURCE_FREE:
            return 0
        case ZIP_SOURCE_ERROR:
            guard let data else { return failed(ZIP_ER_INVAL) }
            return zip_error_to_data(&error, data, length)
        default:
            return failed(ZIP_ER_OPNOTSUPP)
        }
    }
}
