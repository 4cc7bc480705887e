import KerasFile
import Kernels

/// Keras's InputLayer: hands the network's input on unchanged. The network never copies it
/// into a buffer; it is here for the layer table and the graph.
final class InputLayerNode: NetworkLayer {
    let name: String
    let outputShape: [Int]
    var output = Tensor(zeros: [0])

    init(name: String, batchShape: [Int?]) throws {
        self.name = name
        guard batchShape.count >= 2 else {
            throw NetworkError(layer: name, "input shape \(batchShape) has no per-sample dimensions")
        }
        var shape: [Int] = []
        for d in batchShape.dropFirst() {
            guard let d, d > 0 else {
                throw NetworkError(layer: name, "input shape must be fully known apart from the batch; got \(batchShape.map { $0.map(String.init) ?? "None" })")
            }
            shape.append(d)
        }
        self.outputShape = shape
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) { output = input }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        needInputGradient ? gradOutput : nil
    }
}
