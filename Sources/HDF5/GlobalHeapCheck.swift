import CByteScan
import Foundation

/// Checks a file's global heap collections (where variable-length strings live: every
/// attribute h5py writes from a Python `str` or `bytes`) before libhdf5 sees the file.
/// libhdf5 1.10's reader trusts them: an object of size 0 at index 0 makes
/// `H5HG__cache_heap_deserialize` loop forever, and an object larger than its collection
/// makes `H5HG_read` copy past the end of its buffer (a crash). Walking each collection the
/// way libhdf5 will, and refusing the file when the walk would not end inside it, turns those
/// inputs into a plain error.
///
/// It also checks every reference to a heap object it can find: a variable-length value is
/// stored as a 4-byte length followed by the object's heap ID (collection address, 4-byte index),
/// and libhdf5 1.10's `H5T__conv_vlen` allocates and zero-fills the claimed length before it
/// reads the object (a corrupt length of 4 GB made `inspect` take 7.8 GB), with no allocator hook
/// reachable from `H5Aread`. A length larger than the object it names cannot come from a
/// writer: every element of a sequence takes at least one byte of its object.
enum GlobalHeapCheck {
    /// A problem found, in words for a user; nil if every collection is sound.
    static func problem(inFileAt path: String) -> String? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return nil }
        return data.withUnsafeBytes { raw -> String? in
            guard let base = raw.baseAddress else { return nil }
            return problem(in: UnsafeRawBufferPointer(start: base, count: raw.count))
        }
    }

    static func problem(in bytes: UnsafeRawBufferPointer) -> String? {
        // Only files whose lengths and offsets are 8 bytes (what h5py writes) are walked.
        guard let superblock = superblock(bytes), superblock.sizes == (8, 8) else { return nil }
        // Collection address (relative to the superblock) -> its objects' sizes by index.
        var collections: [UInt64: [UInt32: UInt64]] = [:]
        var searchFrom = 0
        while searchFrom + 16 <= bytes.count {
            guard let found = memchr(bytes.baseAddress! + searchFrom, 0x47, bytes.count - searchFrom) else { break }
            let start = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
            searchFrom = start + 1
            // "GCOL"
            guard start + 16 <= bytes.count, bytes[start + 1] == 0x43, bytes[start + 2] == 0x4F,
                  bytes[start + 3] == 0x4C else { continue }
            // The header: "GCOL", version 1, three reserved zero bytes, the collection's size.
            guard start + 16 <= bytes.count, bytes[start + 4] == 1,
                  bytes[start + 5] == 0, bytes[start + 6] == 0, bytes[start + 7] == 0 else { continue }
            let size = load64(bytes, start + 8)
            guard size >= 16, size <= UInt64(bytes.count - start) else {
                return "its global heap at byte \(start) claims \(size) bytes, beyond the end of the file"
            }
            var objects: [UInt32: UInt64] = [:]
            if let problem = walk(bytes, start: start, end: start + Int(size), objects: &objects) {
                return "its global heap at byte \(start) is corrupt (\(problem))"
            }
            if start >= superblock.offset, !objects.isEmpty { collections[UInt64(start - superblock.offset)] = objects }
        }
        return overclaimedReference(bytes, collections: collections)
    }

    /// The loop of libhdf5's `H5HG__cache_heap_deserialize`, checking each step.
    private static func walk(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int,
                             objects: inout [UInt32: UInt64]) -> String? {
        let objectHeader = 16
        var p = start + 16
        while p < end {
            if p + objectHeader > end { return nil }  // the tail is free space
            let index = UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8
            let size = load64(bytes, p + 8)
            let room = UInt64(end - p)
            guard size <= room else { return "object \(index) of \(size) bytes overruns the collection" }
            let need = index > 0 ? UInt64(objectHeader) + (size + 7) / 8 * 8 : size
            guard need > 0 else { return "a free-space object of size 0" }
            guard need <= room else { return "object \(index) of \(size) bytes overruns the collection" }
            if index > 0 { objects[UInt32(index)] = size }
            p += Int(need)
        }
        return nil
    }

    /// The first heap ID in the file whose length claims more than the object it names holds,
    /// in words. Heap IDs are found by their bytes, in one pass: a known collection's 8-byte
    /// address followed by the 4-byte index of one of its objects; the 4 bytes before are the
    /// length. (A coincidence in raw data could only refuse a file whose bytes also happen to
    /// name a real object with a smaller size; none of the fixtures or crafted test files does.)
    private static func overclaimedReference(_ bytes: UnsafeRawBufferPointer,
                                             collections: [UInt64: [UInt32: UInt64]]) -> String? {
        guard let origin = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count >= 16 else { return nil }
        let addresses = collections.keys.filter { $0 > 0 }.sorted()
        var from = 4
        while true {
            let at = relapse_find_any_u64(origin, bytes.count, from, addresses, addresses.count)
            guard at >= 0 else { return nil }
            from = at + 1
            guard at >= 4, at + 12 <= bytes.count, let objects = collections[bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian],
                  let size = objects[load32(bytes, at + 8)] else { continue }
            // A virtual dataset's layout message (version 4, class 3) holds a bare heap ID, no
            // length: its two bytes before the ID are not a vlen length's high bytes. (Such a
            // file is refused by name later; a vlen length skipped this way is below 51 MB.)
            if bytes[at - 2] == 4, bytes[at - 1] == 3 { continue }
            let length = UInt64(load32(bytes, at - 4))
            if length > size {
                return "a variable-length value at byte \(at - 4) claims \(length) elements of a heap object of \(size) bytes"
            }
        }
    }

    /// (size of offsets, size of lengths) from the superblock, found at 0, 512, 1024, ...
    private static func superblock(_ bytes: UnsafeRawBufferPointer) -> (sizes: (Int, Int), offset: Int)? {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var offset = 0
        while offset + 16 <= bytes.count {
            if (0..<8).allSatisfy({ bytes[offset + $0] == signature[$0] }) {
                switch bytes[offset + 8] {
                case 0, 1: return ((Int(bytes[offset + 13]), Int(bytes[offset + 14])), offset)
                case 2, 3: return ((Int(bytes[offset + 9]), Int(bytes[offset + 10])), offset)
                default: return nil
                }
            }
            offset = offset == 0 ? 512 : offset * 2
        }
        return nil
    }

    private static func load32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    private static func load64(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
