import Foundation
import HDF5
import KerasFile
import Kernels

/// NumPy's `.npy` format, versions 1.0, 2.0 and 3.0: little-endian numbers in C order, read as
/// float32 (what Keras would feed a float32 model). Big-endian and Fortran-order files are
/// refused with the numpy call that fixes them rather than silently transposed or swapped.
public enum NumPyFile {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// The element types read, by their numpy `descr` without the byte-order mark.
    private static let itemSizes: [String: Int] = [
        "f4": 4, "f8": 8, "i1": 1, "i2": 2, "i4": 4, "i8": 8, "u1": 1, "u2": 2, "u4": 4, "u8": 8, "b1": 1,
    ]

    public static func read(_ path: String) throws -> Tensor {
        if let problem = RegularFile.problem(path) { throw DataError(path, problem) }
        guard let contents = FileManager.default.contents(atPath: path) else { throw DataError(path, "cannot be read") }
        return try decode([UInt8](contents), path: path)
    }

    /// Decodes a whole `.npy` file's bytes; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Tensor {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw DataError(path, "is not a NumPy .npy file (no \\x93NUMPY signature)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DataError(path, "is truncated inside its header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw DataError(path, "is .npy format version \(major).\(bytes[7]), which is not supported (1.0, 2.0 and 3.0 are)")
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= bytes.count else { throw DataError(path, "is truncated inside its header") }
        // Version 1 and 2 headers are latin-1, version 3 UTF-8; the keys and values read are ASCII either way.
        let text = major == 3 ? String(decoding: bytes[headerStart..<dataStart], as: UTF8.self)
                              : String(bytes[headerStart..<dataStart].map { Character(Unicode.Scalar($0)) })
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let header: NumPyHeader
        do {
            header = try NumPyHeader.parse(trimmed)
        } catch {
            throw DataError(path, "is not a readable .npy file: \(error.reason)")
        }
        return try values(of: header, bytes: bytes[dataStart...], path: path)
    }

    private static func values(of header: NumPyHeader, bytes: ArraySlice<UInt8>, path: String) throws -> Tensor {
        let order = header.descr.first
        let code = String(header.descr.dropFirst())
        guard let itemSize = itemSizes[code], order == "<" || order == "|" || order == ">" else {
            throw DataError(path, "holds dtype '\(header.descr)', which is not supported "
                + "(use float32, float64, an integer type or bool: x.astype('<f4'))")
        }
        if order == ">" && itemSize > 1 {
            throw DataError(path, "holds big-endian '\(header.descr)'; save it little-endian: np.save(p, x.astype('<\(code)'))")
        }
        if header.fortranOrder && header.shape.count > 1 {
            throw DataError(path, "is stored in Fortran order; save it in C order: np.save(p, np.ascontiguousarray(x))")
        }
        guard header.shape.allSatisfy({ $0 >= 0 }) else { throw DataError(path, "has a negative dimension in shape \(header.shape)") }
        let (count, overflow) = header.shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= bytes.count / itemSize else {
            throw DataError(path, "is truncated: shape \(header.shape) needs \(overflow ? "more" : String(count * itemSize)) "
                + "bytes of data but the file holds \(bytes.count)")
        }
        var floats = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            floats.withUnsafeMutableBufferPointer { out in
                func convert<T: FixedWidthInteger>(_: T.Type, _ transform: (T) -> Float) {
                    for i in 0..<count {
                        out[i] = transform(T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)))
                    }
                }
                switch code {
                case "f4": convert(UInt32.self) { Float(bitPattern: $0) }
                case "f8": convert(UInt64.self) { Float(Double(bitPattern: $0)) }
                case "i1": convert(Int8.self) { Float($0) }
                case "i2": convert(Int16.self) { Float($0) }
                case "i4": convert(Int32.self) { Float($0) }
                case "i8": convert(Int64.self) { Float($0) }
                case "u1": convert(UInt8.self) { Float($0) }
                case "u2": convert(UInt16.self) { Float($0) }
                case "u4": convert(UInt32.self) { Float($0) }
                case "u8": convert(UInt64.self) { Float($0) }
                default: convert(UInt8.self) { $0 == 0 ? 0 : 1 }  // b1
                }
            }
        }
        return Tensor(shape: header.shape, data: floats)
    }

    /// The bytes of a version 1.0 `.npy` file holding `tensor` as little-endian float32, with
    /// the header padded to 64 bytes as numpy pads it.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        var header = Array(NumPyHeader.render(descr: "<f4", shape: tensor.shape).utf8)
        let unpadded = 10 + header.count + 1
        header += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64) + [0x0A]
        var bytes = magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
        bytes.reserveCapacity(bytes.count + tensor.count * 4)
        for v in tensor.data {
            let bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Writes `tensor` as a float32 `.npy` file, atomically.
    public static func write(_ tensor: Tensor, to path: String) throws {
        do {
            try AtomicFile.write(to: path) { temporary in
                try Data(encode(tensor)).write(to: URL(fileURLWithPath: temporary))
            }
        } catch let error as KerasFileError {
            throw DataError(error.path, error.problem)
        }
    }
}
