import KerasFile
import Kernels

/// Keras's Dropout, inverted: in training each value is kept with probability 1 - rate and the
/// kept ones are scaled by 1 / (1 - rate); outside training it passes values through. The mask
/// is drawn from the network's `SeededGenerator` (one uniform float per value, kept when
/// u >= rate, as TensorFlow's `dropout` compares), so a run is reproducible and resumable.
final class DropoutLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let rate: Float
    var output = Tensor(zeros: [0])
    private var mask = Tensor(zeros: [0])
    private var masked = false
    private var gradInput = Tensor(zeros: [0])

    init(name: String, rate: Double, config: JSONValue, inputShape: [Int]) throws {
        self.name = name
        guard rate >= 0, rate < 1 else {
            throw NetworkError(layer: name, "dropout rate must be in [0, 1), got \(rate)")
        }
        if let noise = config["noise_shape"], !noise.isNull {
            throw NetworkError(layer: name, "noise_shape is not supported")
        }
        self.rate = Float(rate)
        self.outputShape = inputShape
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        masked = training && rate > 0
        guard masked else {
            copyValues(input, into: &output, shape: input.shape)
            return
        }
        mask.ensureShape(input.shape)
        output.ensureShape(input.shape)
        let scale = 1 / (1 - rate), rate = self.rate, n = input.count
        mask.withMutablePointer { m in
            for i in 0..<n { m[i] = rng.nextUnitFloat() >= rate ? scale : 0 }
        }
        input.withPointer { x in mask.withPointer { m in output.withMutablePointer { y in
            for i in 0..<n { y[i] = x[i] * m[i] }
        } } }
    }

    /// Test hook: the mask of the last training forward (scale or 0 per value).
    var lastMask: Tensor? { masked ? mask : nil }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        guard masked else {
            copyValues(gradOutput, into: &gradInput, shape: input.shape)
            return gradInput
        }
        gradInput.ensureShape(input.shape)
        let n = input.count
        gradOutput.withPointer { dy in mask.withPointer { m in gradInput.withMutablePointer { dx in
            for i in 0..<n { dx[i] = dy[i] * m[i] }
        } } }
        return gradInput
    }
}
