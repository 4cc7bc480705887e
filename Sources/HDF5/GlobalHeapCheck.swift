import Foundation

/// Checks a file's global heap collections (where variable-length strings live: every
/// attribute h5py writes from a Python `str` or `bytes`) before libhdf5 sees the file.
/// libhdf5 1.10's reader trusts them: an object of size 0 at index 0 makes
/// `H5HG__cache_heap_deserialize` loop forever, and an object larger than its collection
/// makes `H5HG_read` copy past the end of its buffer (a crash). Walking each collection the
/// way libhdf5 will, and refusing the file when the walk would not end inside it, turns those
/// inputs into a plain error.
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
        guard let sizes = sizesFromSuperblock(bytes), sizes == (8, 8) else { return nil }
        var searchFrom = 0
        while searchFrom + 16 <= bytes.count {
            guard let found = memchr(bytes.baseAddress! + searchFrom, 0x47, bytes.count - searchFrom) else { return nil }
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
            if let problem = walk(bytes, start: start, end: start + Int(size)) {
                return "its global heap at byte \(start) is corrupt (\(problem))"
            }
        }
        return nil
    }

    /// The loop of libhdf5's `H5HG__cache_heap_deserialize`, checking each step.
    private static func walk(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) -> String? {
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
            p += Int(need)
        }
        return nil
    }

    /// (size of offsets, size of lengths) from the superblock, found at 0, 512, 1024, ...
    private static func sizesFromSuperblock(_ bytes: UnsafeRawBufferPointer) -> (Int, Int)? {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var offset = 0
        while offset + 16 <= bytes.count {
            if (0..<8).allSatisfy({ bytes[offset + $0] == signature[$0] }) {
                switch bytes[offset + 8] {
                case 0, 1: return (Int(bytes[offset + 13]), Int(bytes[offset + 14]))
                case 2, 3: return (Int(bytes[offset + 9]), Int(bytes[offset + 10]))
                default: return nil
                }
            }
            offset = offset == 0 ? 512 : offset * 2
        }
        return nil
    }

    private static func load64(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
