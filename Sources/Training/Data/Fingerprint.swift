/// FNV-1a, 64 bits: tiny, dependency free, and defined on bytes, so a data set hashes the same
/// on every platform. It only has to notice that data changed between a run and its resume;
/// it is not meant to resist anyone.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    public init() {}

    public mutating func add(byte: UInt8) {
        value = (value ^ UInt64(byte)) &* Self.prime
    }

    /// Little-endian bytes, whatever the host's byte order.
    public mutating func add(_ word: UInt64) {
        var w = word
        for _ in 0..<8 {
            add(byte: UInt8(truncatingIfNeeded: w))
            w >>= 8
        }
    }

    public mutating func add(_ word: UInt32) {
        var w = word
        for _ in 0..<4 {
            add(byte: UInt8(truncatingIfNeeded: w))
            w >>= 8
        }
    }

    public mutating func add(_ string: String) {
        for byte in string.utf8 { add(byte: byte) }
    }

    /// The rank, every dimension, then every value's raw bits (so -0 and NaN payloads count).
    public mutating func add(shape: [Int], values: [Float]) {
        add(UInt64(shape.count))
        for dimension in shape { add(UInt64(dimension)) }
        values.withUnsafeBufferPointer { buffer in
            for v in buffer { add(v.bitPattern) }
        }
    }

    /// Sixteen lowercase hex digits, the form checkpoints record.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
