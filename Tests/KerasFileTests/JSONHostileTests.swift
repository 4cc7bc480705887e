import KerasFile
import XCTest

/// JSON a hostile model_config may hold: refused with a message, never a trap or a deep recursion.
final class JSONHostileTests: XCTestCase {
    func testLoneHighSurrogateIsAnErrorNotAnOverflow() {
        // "\uD800\u0041": a high surrogate followed by a non-surrogate (trapped on UInt32 underflow).
        XCTAssertThrowsError(try JSONValue.parse("[\"\\uD800\\u0041\"]")) { error in
            XCTAssertTrue("\(error)".contains("invalid surrogate pair"), "\(error)")
        }
        XCTAssertEqual(try JSONValue.parse("[\"\\uD83D\\uDE00\"]"), .array([.string("\u{1F600}")]))
    }

    func testDeepNestingIsRefused() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONValue.parse(deep)) { error in
            XCTAssertTrue("\(error)".contains("nested too deeply"), "\(error)")
        }
    }

    func testHugeNumbersStayNumbers() throws {
        XCTAssertEqual(try JSONValue.parse("[9223372036854775808]"), .array([.double(9223372036854775808)]))
        XCTAssertNil(try JSONValue.parse("1e400").intValue)
    }
}
