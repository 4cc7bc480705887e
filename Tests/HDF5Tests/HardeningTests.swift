import Foundation
@testable import HDF5
import XCTest

/// Corrupt files that used to hang or crash libhdf5 1.10 or our own allocation, found by
/// tools/fuzz.py; each is now refused with an error before any damage. And the one lock.
final class HardeningTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relapse-hdf5-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func fixture(_ name: String) -> String { Self.root.appendingPathComponent("fixtures/\(name)").path }

    /// A copy of a fixture with `change` applied to its bytes.
    func mutated(_ name: String, _ change: (inout [UInt8]) -> Void) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
        change(&bytes)
        let path = directory + "/\(UUID().uuidString.prefix(8))-\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func globalHeap(_ bytes: [UInt8]) -> Int {
        (0..<(bytes.count - 4)).first { bytes[$0] == 0x47 && bytes[$0 + 1] == 0x43 && bytes[$0 + 2] == 0x4F && bytes[$0 + 3] == 0x4C }!
    }

    func assertOpenFails(_ path: String, saying phrase: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try HDF5.File.open(path), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(phrase), "\(error)", file: file, line: line)
        }
    }

    /// libhdf5 would loop forever in H5HG__cache_heap_deserialize (fuzz seed 1, input 542).
    func testFreeSpaceObjectOfSizeZeroIsRefusedNotLoopedOn() throws {
        let path = try mutated("tfk-adam-trained.h5") { bytes in
            let heap = globalHeap(bytes)
            for i in (heap + 16)..<(heap + 32) { bytes[i] = 0 }
        }
        assertOpenFails(path, saying: "a free-space object of size 0")
    }

    /// libhdf5 would memcpy past the heap in H5HG_read (fuzz seed 1, inputs 181, 206, 210, 351, 504).
    func testHeapObjectLargerThanItsCollectionIsRefused() throws {
        let path = try mutated("tfk-rmsprop-trained.h5") { bytes in
            let heap = globalHeap(bytes)
            bytes[heap + 16 + 15] = 0x80  // the first object's size: 2^63 + its own
        }
        assertOpenFails(path, saying: "overruns the collection")
        let sane = try mutated("tfk-rmsprop-trained.h5") { _ in }
        XCTAssertNoThrow(try HDF5.File.open(sane), "the unmutated copy opens")
    }

    /// libhdf5 1.10's H5T__conv_vlen would allocate and zero-fill the claimed length before
    /// reading (fuzz seed 2, inputs 2568 and 2734: up to 4.2 GB; 0xF0000000 took 7.8 GB).
    func testVariableLengthClaimingMoreThanItsHeapObjectIsRefused() throws {
        var references = 0
        let path = try mutated("tfk-sequential-channels-last.h5") { bytes in
            let heap = globalHeap(bytes)
            let address = (0..<8).map { UInt8(truncatingIfNeeded: heap >> (8 * $0)) }
            // Every heap ID naming this collection: the 8-byte address, a 4-byte index >= 1.
            for at in 4..<(bytes.count - 12) where Array(bytes[at..<(at + 8)]) == address && bytes[at + 8] > 0 {
                references += 1
                if references == 1 { bytes.replaceSubrange((at - 4)..<at, with: [0, 0, 0, 0xF0]) }
            }
        }
        XCTAssertGreaterThan(references, 1, "the fixture's strings live in its global heap")
        assertOpenFails(path, saying: "claims 4026531840 elements of a heap object of")
        let sane = try mutated("tfk-sequential-channels-last.h5") { _ in }
        XCTAssertNoThrow(try HDF5.File.open(sane), "the unmutated copy opens")
    }

    func testCollectionLargerThanTheFileIsRefused() throws {
        let path = try mutated("tfk-adam-trained.h5") { bytes in
            let heap = globalHeap(bytes)
            bytes[heap + 13] = 0x7F
        }
        assertOpenFails(path, saying: "beyond the end of the file")
    }

    /// A flipped bit made a dimension 2^32 + 3: refused before allocating (fuzz seed 1).
    func testAbsurdDimensionsAreRefusedBeforeAllocating() throws {
        let path = try mutated("tfk-weights-only.h5") { $0[8300] ^= 0x01 }
        let file = try HDF5.File.open(path)
        let dataset = try file.root.dataset("conv2d/conv2d/kernel:0")
        XCTAssertEqual(try dataset.shape(), [4294967299, 3, 1, 4])
        XCTAssertThrowsError(try dataset.read()) { error in
            XCTAssertTrue("\(error)".contains("claim more data than the file holds"), "\(error)")
        }
    }

    func testElementCountGuardsOverflowAndLimit() throws {
        XCTAssertEqual(try Node.elementCount([2, 3, 4], elementSize: 4, limit: 96, what: "x"), 24)
        XCTAssertThrowsError(try Node.elementCount([2, 3, 4], elementSize: 4, limit: 95, what: "x"))
        XCTAssertThrowsError(try Node.elementCount([1 << 40, 1 << 40], elementSize: 1, limit: .max, what: "x"))
        XCTAssertThrowsError(try Node.elementCount([1 << 61], elementSize: 8, limit: .max, what: "x"))
        XCTAssertEqual(try Node.elementCount([], elementSize: 8, limit: 8, what: "x"), 1)
    }

    /// Every libhdf5 call goes through one lock: many threads reading at once get the same
    /// answers as one (Debian's libhdf5 is not thread-safe; without the lock this crashes or
    /// corrupts, and the thread sanitizer reports it).
    func testConcurrentReadsAreSerialised() throws {
        let names = ["tfk-adam-trained.h5", "keras22-adam.h5", "keras3-adam-trained.h5", "tfk-weights-only.h5"]
        let paths = names.map(fixture)
        let expected = try paths.map(Self.digest)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values = [[String]?](repeating: nil, count: 32)
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let value = try? Self.digest(paths[i % paths.count])
            results.lock.withLock { results.values[i] = value }
        }
        for i in 0..<32 { XCTAssertEqual(results.values[i], expected[i % names.count], "thread \(i)") }
    }

    static func digest(_ path: String) throws -> [String] {
        let file = try HDF5.File.open(path)
        var lines: [String] = []
        func visit(_ group: Group) throws {
            for attribute in try group.attributeNames() { lines.append("\(group.path)@\(attribute)=\(String(describing: try group.attribute(attribute)))") }
            for child in try group.childNames() {
                switch group.kind(of: child) {
                case .group: try visit(try group.group(child))
                case .dataset: lines.append("\(group.path)/\(child)=\(try group.dataset(child).read().bytes.count)")
                default: break
                }
            }
        }
        try visit(file.root)
        return lines
    }
}
