import Foundation
import XCTest
@testable import Training

/// A fresh folder under the system's temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "relapse-data-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// The error a throwing call raised, as the one line the CLI would print.
func dataErrorMessage(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as DataError {
        return error.description
    } catch {
        return "not a DataError: \(error)"
    }
}
