/// A problem with training data, worded for the one-line message the CLI prints before any
/// training starts: "`source`: `problem`", where `source` names the file (or the generator).
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public var source: String
    public var problem: String

    public init(_ source: String, _ problem: String) {
        self.source = source
        self.problem = problem
    }

    public var description: String { "\(source): \(problem)" }
}
