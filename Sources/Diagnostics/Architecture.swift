import HDF5
import KerasFile

/// What makes two checkpoints checkpoints of one model, whatever Keras wrote them and however
/// it named the layers: the layer classes in config order (InputLayer left out: Keras 3's
/// Sequential does not list it) and the weights' shapes in order. `diff` and `scan` compare it,
/// so that two unrelated models are said to be unrelated instead of compared weight by weight.
public struct Architecture: Equatable, Sendable {
    public var layerClasses: [String]?
    public var weightShapes: [[Int]]

    public init(_ checkpoint: CheckpointTensors) {
        layerClasses = checkpoint.model.definition?.layers.map(\.className).filter { $0 != "InputLayer" }
        weightShapes = checkpoint.weights.map(\.values.shape)
    }

    /// Nil when `other` is the same architecture, else the first difference in words
    /// ("layer 3 is Dense here and Conv2D there"). Layer classes are compared only when both
    /// files have an architecture (a weights-only file has none).
    public func difference(from other: Architecture, here: String = "A", there: String = "B") -> String? {
        if let mine = layerClasses, let theirs = other.layerClasses, mine != theirs {
            if mine.count != theirs.count {
                return "\(here) has \(mine.count) layers (\(Self.list(mine))), \(there) has \(theirs.count) (\(Self.list(theirs)))"
            }
            let i = mine.indices.first { mine[$0] != theirs[$0] }!
            return "layer \(i + 1) is \(mine[i]) in \(here) and \(theirs[i]) in \(there)"
        }
        if weightShapes.count != other.weightShapes.count {
            return "\(here) has \(weightShapes.count) weights, \(there) has \(other.weightShapes.count)"
        }
        if let i = weightShapes.indices.first(where: { weightShapes[$0] != other.weightShapes[$0] }) {
            return "weight \(i + 1) has shape \(Self.tuple(weightShapes[i])) in \(here) and \(Self.tuple(other.weightShapes[i])) in \(there)"
        }
        return nil
    }

    static func list(_ names: [String]) -> String {
        names.count <= 6 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + ", ..."
    }

    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
