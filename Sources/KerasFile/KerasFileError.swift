/// A problem with a Keras file, worded for the one-line message the CLI prints:
/// "`path`: `problem`".
public struct KerasFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
