import Foundation

/// Paths of the files real Keras made (see fixtures/README.md) and scratch space for tests.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ name: String) -> String { root.appendingPathComponent("fixtures/\(name)").path }

    /// Every Keras model or weights file among the fixtures (the reference data files excluded).
    static var modelFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("fixtures").path)) ?? []
        return names.filter { $0.hasSuffix(".h5") && !["ref-", "loss-", "string-"].contains(where: $0.hasPrefix) && $0 != "train-data.h5" }
            .sorted()
    }

    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("relapse-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}
