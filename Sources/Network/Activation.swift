import KerasFile
import Kernels

/// Keras's Activation layer, and the activation layers that are one element-wise function or a
/// softmax over the last axis (ReLU, LeakyReLU, ELU, Softmax): `kernel` applied to the input.
final class ActivationLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let finalActivation: ActivationFunction
    private let kernel: ActivationKernel
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    convenience init(name: String, function: ActivationFunction, inputShape: [Int]) {
        self.init(name: name, kernel: function.kernel(shape: inputShape), final: function, inputShape: inputShape)
    }

    /// `final`: what the loss sees as the output's activation (softmax and sigmoid have logits).
    init(name: String, kernel: ActivationKernel, final: ActivationFunction, inputShape: [Int]) {
        self.name = name
        self.finalActivation = final
        self.outputShape = inputShape
        self.kernel = kernel
    }

    /// tf.nn.relu and nothing else (what a BatchNormalization before it can fuse).
    var isPlainRelu: Bool { kernel == .relu }

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
        input.withPointer { x in output.withPointer { y in gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            k.backward(input: x, output: y, gradOutput: dy, gradInput: dx, count: gradOutput.count)
        } } } }
        return gradInput
    }
}
