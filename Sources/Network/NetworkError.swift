/// A problem with a model's architecture, its weights or the data given to it, naming the layer.
public struct NetworkError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The layer concerned, when there is one.
    public var layer: String?
    public var message: String

    public init(layer: String?, _ message: String) {
        self.layer = layer
        self.message = message
    }

    public var description: String {
        if let layer { return "layer '\(layer)': \(message)" }
        return message
    }
}

func describeShape(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }
