import Budget
import XCTest

/// The resource policy's arithmetic: sizes are computed with overflow checks and compared with
/// the budget; `--max-memory` sizes are read in powers of 1024.
final class MemoryBudgetTests: XCTestCase {
    func testByteCountsRefuseOverflowAndNegativeDimensions() {
        XCTAssertEqual(MemoryBudget.byteCount([36, 2]), 288)
        XCTAssertEqual(MemoryBudget.byteCount([]), 4)
        XCTAssertEqual(MemoryBudget.byteCount([0, 1 << 62]), 0)
        XCTAssertNil(MemoryBudget.byteCount([1 << 31, 1 << 31, 4]))
        XCTAssertNil(MemoryBudget.byteCount([3, 3, 1, 1 << 62]))
        XCTAssertNil(MemoryBudget.byteCount([-1, 4]))
        XCTAssertNil(MemoryBudget.sum([Int.max, 1]))
        XCTAssertNil(MemoryBudget.sum([1, nil]))
        XCTAssertEqual(MemoryBudget.sum([1, 2, 3]), 6)
    }

    func testCheckRefusesByNameOverTheBudget() throws {
        let saved = MemoryBudget.bytes
        defer { MemoryBudget.bytes = saved }
        MemoryBudget.bytes = 1 << 20
        XCTAssertNoThrow(try MemoryBudget.check("a weight", bytes: 1 << 20))
        XCTAssertThrowsError(try MemoryBudget.check("a weight", bytes: (1 << 20) + 1)) { error in
            XCTAssertEqual("\(error)", "a weight needs 1.0 MiB, more than the memory budget of 1.0 MiB (--max-memory changes it)")
        }
        XCTAssertThrowsError(try MemoryBudget.check("a weight", shape: [1 << 40, 1 << 40])) { error in
            XCTAssertEqual("\(error)", "a weight is too large: its size overflows a 64-bit count")
        }
    }

    func testMaxMemorySizes() {
        XCTAssertEqual(MemoryBudget.parse("8G"), 8 << 30)
        XCTAssertEqual(MemoryBudget.parse("512M"), 512 << 20)
        XCTAssertEqual(MemoryBudget.parse("1.5GiB"), 3 << 29)
        XCTAssertEqual(MemoryBudget.parse("200K"), 200 << 10)
        XCTAssertEqual(MemoryBudget.parse("100000"), 100000)
        XCTAssertEqual(MemoryBudget.parse("2t"), 2 << 40)
        for bad in ["", "-5", "0", "lots", "inf", "nan", "1e30", "G", "5X"] { XCTAssertNil(MemoryBudget.parse(bad), bad) }
        XCTAssertGreaterThan(MemoryBudget.defaultBytes, 0)
    }
}
