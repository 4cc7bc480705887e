import Foundation

/// The resource policy (issue 16): every size a file, a config or a flag makes Relapse
/// allocate is computed with overflow checks and compared with this budget before anything is
/// allocated, so a file that merely claims a size (a Dense of 2^40 units, a data set of 2^24
/// samples in 1.6 KB) is refused by name instead of aborting in the allocator or trapping on an
/// overflowed multiplication.
///
/// The budget is half the machine's physical memory unless `--max-memory` (or
/// `RELAPSE_MAX_MEMORY`) says otherwise. It bounds what one command plans to hold: one data
/// set, one model's weights with their gradients and optimizer slots, one batch's activations.
public enum MemoryBudget {
    /// Half of physical memory.
    public static let defaultBytes = Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)

    nonisolated(unsafe) private static var current: Int = {
        if let text = ProcessInfo.processInfo.environment["RELAPSE_MAX_MEMORY"], let bytes = parse(text) { return bytes }
        return defaultBytes
    }()

    /// The budget in bytes.
    public static var bytes: Int {
        get { current }
        set { current = max(newValue, 0) }
    }

    /// Where the budget came from, for messages: `--max-memory` changes it.
    public static var describedLimit: String {
        "the memory budget of \(format(current)) (" + (current == defaultBytes ? "half this machine's memory; " : "") + "--max-memory changes it)"
    }

    /// `dims` times `elementSize`, or nil when a dimension is negative or the product overflows.
    public static func byteCount(_ dims: [Int], elementSize: Int = 4) -> Int? {
        var count = max(elementSize, 0)
        for dim in dims {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// Elements of `dims`, or nil when a dimension is negative or the product overflows.
    public static func elementCount(_ dims: [Int]) -> Int? { byteCount(dims, elementSize: 1) }

    /// Sums byte counts, nil on overflow (or when any is nil).
    public static func sum(_ counts: [Int?]) -> Int? {
        var total = 0
        for count in counts {
            guard let count else { return nil }
            let (s, overflow) = total.addingReportingOverflow(count)
            if overflow { return nil }
            total = s
        }
        return total
    }

    /// Refuses `bytes` (nil: an overflowed computation) when over the budget: `what` names the
    /// thing that would be allocated ("layer 'dense': its kernel of shape (36, 2^40)").
    public static func check(_ what: @autoclosure () -> String, bytes: Int?) throws {
        guard let bytes else { throw ResourceError("\(what()) is too large: its size overflows a 64-bit count") }
        guard bytes <= current else {
            throw ResourceError("\(what()) needs \(format(bytes)), more than \(describedLimit)")
        }
    }

    /// Refuses a float32 tensor of `shape` that would not fit the budget.
    public static func check(_ what: @autoclosure () -> String, shape: [Int], elementSize: Int = 4) throws {
        try check(what(), bytes: byteCount(shape, elementSize: elementSize))
    }

    /// "12 GB", "512 MB", "100 bytes" (powers of 1024, as --max-memory reads them).
    public static func format(_ bytes: Int) -> String {
        let units = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where bytes >= size {
            let value = Double(bytes) / Double(size)
            return (value >= 100 ? String(Int(value.rounded())) : String(format: "%.1f", value)) + " " + name
        }
        return "\(bytes) bytes"
    }

    /// Reads `8G`, `512M`, `1.5GiB`, `100000` (bytes); K, M, G, T are powers of 1024.
    /// Nil for anything else, or a size that is not positive or overflows.
    public static func parse(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits.removeLast(suffix.count)
            break
        }
        var scale = 1.0
        if let last = digits.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            scale = pow(1024, Double(power))
            digits.removeLast()
        }
        guard let value = Double(digits), value.isFinite, value > 0 else { return nil }
        let bytes = value * scale
        guard bytes >= 1, bytes < 9.2e18 else { return nil }
        return Int(bytes)
    }
}

/// A size refused by the resource policy; the caller adds the file's name.
public struct ResourceError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
