import Budget
import KerasFile
import Kernels

/// Keras's Reshape: a plain row-major reshape of each sample as laid out (C, H, W under
/// channels_first), one -1 allowed in the target shape.
final class ReshapeLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, targetShape: [Int], inputShape: [Int]) throws {
        self.name = name
        guard let total = MemoryBudget.elementCount(inputShape) else {
            throw NetworkError(layer: name, "input of shape \(describeShape(inputShape)) is too large: its size overflows")
        }
        let unknown = targetShape.filter { $0 == -1 }.count
        guard unknown <= 1, targetShape.allSatisfy({ $0 == -1 || $0 > 0 }) else {
            throw NetworkError(layer: name, "invalid target_shape \(describeShape(targetShape))")
        }
        guard let known = MemoryBudget.elementCount(targetShape.filter { $0 != -1 }) else {
            throw NetworkError(layer: name, "target_shape \(describeShape(targetShape)) is too large: its size overflows")
        }
        var shape = targetShape
        if unknown == 1 {
            guard known > 0, total % known == 0 else {
                throw NetworkError(layer: name, "cannot reshape \(describeShape(inputShape)) (\(total) values) to \(describeShape(targetShape))")
            }
            shape[shape.firstIndex(of: -1)!] = total / known
        } else if known != total {
            throw NetworkError(layer: name, "cannot reshape \(describeShape(inputShape)) (\(total) values) to \(describeShape(targetShape)) (\(known) values)")
        }
        self.outputShape = shape
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        copyValues(input, into: &output, shape: [input.samples] + outputShape)
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        copyValues(gradOutput, into: &gradInput, shape: input.shape)
        return gradInput
    }
}
