import KerasFile
import Kernels

/// Keras's Activation layer: relu, sigmoid, tanh, linear element-wise; softmax over the last axis.
final class ActivationLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let function: ActivationFunction
    private let kernel: ActivationKernel
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, function: ActivationFunction, inputShape: [Int]) {
        self.name = name
        self.function = function
        self.outputShape = inputShape
        self.kernel = function.kernel(shape: inputShape)
    }

    var finalActivation: ActivationFunction { function }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let k = kernel
        input.withPointer { x in output.withMutablePointer { y in k.forward(x, y, count: input.count) } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        if skipActivation { return gradOutput }
        gradInput.ensureShape(gradOutput.shape)
        let k = kernel
        output.withPointer { y in gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            k.backward(output: y, gradOutput: dy, gradInput: dx, count: gradOutput.count)
        } } }
        return gradInput
    }
}
