import KerasFile
import Kernels

/// Keras's Flatten. Its order is always channels last: under channels_first the per-sample
/// tensor (C, d1, d2, ...) is first transposed to (d1, d2, ..., C), as tf.keras does.
final class FlattenLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let channelsFirst: Bool
    private let channels: Int
    private let spatial: Int
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, dataFormat: DataFormat, inputShape: [Int]) {
        self.name = name
        let total = inputShape.reduce(1, *)
        self.outputShape = [total]
        self.channelsFirst = dataFormat == .channelsFirst && inputShape.count > 1
        self.channels = inputShape.first ?? 1
        self.spatial = channels > 0 ? total / channels : 0
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples
        guard channelsFirst else {
            copyValues(input, into: &output, shape: [batch] + outputShape)
            return
        }
        output.ensureShape([batch] + outputShape)
        let C = channels, S = spatial
        input.withPointer { x in output.withMutablePointer { y in
            for b in 0..<batch {
                let xs = x + b * C * S, ys = y + b * C * S
                for c in 0..<C { for s in 0..<S { ys[s * C + c] = xs[c * S + s] } }
            }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        guard channelsFirst else {
            copyValues(gradOutput, into: &gradInput, shape: input.shape)
            return gradInput
        }
        gradInput.ensureShape(input.shape)
        let C = channels, S = spatial, batch = input.samples
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            for b in 0..<batch {
                let ds = dy + b * C * S, xs = dx + b * C * S
                for c in 0..<C { for s in 0..<S { xs[c * S + s] = ds[s * C + c] } }
            }
        } }
        return gradInput
    }
}
