import Foundation
@testable import KerasFile
import XCTest

/// The temporary file behind every write (issue 16): exclusive creation under an unpredictable
/// name carrying Relapse's mark, mode 600 while written, gone on failure.
final class AtomicFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relapse-atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testTemporaryIsAFreshPrivateFileUnderAnUnpredictableMarkedName() throws {
        var seen: [String] = []
        for _ in 0..<2 {
            try AtomicFile.write(to: directory + "/out.txt") { temporary in
                var info = stat()
                XCTAssertEqual(lstat(temporary, &info), 0)
                XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG, "a regular file, not a link")
                XCTAssertEqual(info.st_mode & 0o777, 0o600, "private while written")
                XCTAssertEqual(info.st_size, 0, "created by this write, not found there")
                XCTAssertEqual(AtomicFile.temporaryWriter(named: (temporary as NSString).lastPathComponent), getpid())
                seen.append(temporary)
                try "x".write(toFile: temporary, atomically: false, encoding: .utf8)
            }
        }
        XCTAssertNotEqual(seen[0], seen[1], "a new random suffix each time")
        XCTAssertTrue(seen[0].hasPrefix(directory + "/.out.txt.relapse-tmp.\(getpid())."), seen[0])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["out.txt"])
    }

    func testAFailedWriteLeavesNothing() throws {
        struct Failure: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: directory + "/out.txt") { _ in throw Failure() })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testOnlyRelapsesOwnTemporariesAreRecognised() {
        XCTAssertEqual(AtomicFile.temporaryWriter(named: ".epoch-0001.h5.relapse-tmp.123.abcdeABCDE"), 123)
        for name in [".epoch-0001.h5.tmp-123", "epoch-0001.h5.relapse-tmp.123.abcdeABCDE", ".relapse-tmp.123.abcdeABCDE",
                     ".x.relapse-tmp.123.short", ".x.relapse-tmp.abc.abcdeABCDE", ".x.relapse-tmp.123.abcde-BCDE",
                     ".x.relapse-tmp.0.abcdeABCDE"] {
            XCTAssertNil(AtomicFile.temporaryWriter(named: name), name)
        }
        XCTAssertNil(AtomicFile.staleTemporaryWriter(named: ".x.relapse-tmp.\(getpid()).abcdeABCDE"), "a live writer's")
        XCTAssertEqual(AtomicFile.staleTemporaryWriter(named: ".x.relapse-tmp.999999999.abcdeABCDE"), 999999999)
    }
}
