import Foundation
import HDF5
import XCTest

/// Attributes as h5py writes them (fixtures/string-attributes.h5), read and written back.
final class StringAttributeTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/string-attributes.h5").path

    let expected: [String: AttributeValue] = [
        "vlen_utf8_scalar": .strings(["caf\u{e9} \u{2192} ok"], storage: .variable, charset: .utf8, isScalar: true),
        "vlen_ascii_scalar": .strings(["plain bytes"], storage: .variable, charset: .ascii, isScalar: true),
        "fixed_ascii_scalar": .strings(["fixed"], storage: .fixed(length: 5), charset: .ascii, isScalar: true),
        "fixed_ascii_array": .strings(["conv2d_1", "dense_1"], storage: .fixed(length: 8), charset: .ascii, isScalar: false),
        "vlen_utf8_array": .strings(["\u{fc}ber", "x"], storage: .variable, charset: .utf8, isScalar: false),
        "vlen_ascii_array": .strings(["dense/kernel:0", "dense/bias:0"], storage: .variable, charset: .ascii, isScalar: false),
        "fixed_utf8_array": .strings(["\u{e9}t\u{e9}", "a"], storage: .fixed(length: 6), charset: .utf8, isScalar: false),
    ]

    func testEveryFormH5pyWritesReads() throws {
        let root = try File.open(Self.fixture).root
        XCTAssertEqual(Set(try root.attributeNames()), Set(expected.keys).union(["empty_list"]))
        for (name, value) in expected {
            XCTAssertEqual(try root.attribute(name), value, name)
        }
        XCTAssertEqual(try root.attribute("empty_list")?.stringList, [], "an empty float64 array is an empty list")
        XCTAssertNil(try root.attribute("absent"))
    }

    func testEveryFormWritesBackAsItWasRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("strings-\(UUID().uuidString).h5").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try File.open(Self.fixture).root
        do {
            let copy = try File.create(path)
            for name in try source.attributeNames() {
                try copy.root.setAttribute(name, value: try XCTUnwrap(source.attribute(name)))
            }
            try copy.flush()
        }
        let reread = try File.open(path).root
        for name in try source.attributeNames() {
            XCTAssertEqual(try reread.attribute(name), try source.attribute(name), name)
        }
    }
}
