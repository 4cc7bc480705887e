import KerasFile
import Kernels

/// Keras's MaxPooling2D with TensorFlow's semantics (see `MaxPoolKernel`).
final class MaxPooling2DLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let pool: MaxPoolKernel
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, spec: Pooling2DSpec, inputShape: [Int]) throws {
        self.name = name
        guard inputShape.count == 3 else {
            throw NetworkError(layer: name, "MaxPooling2D needs a rank-3 input per sample, got \(describeShape(inputShape))")
        }
        guard spec.poolSize.0 > 0, spec.poolSize.1 > 0, spec.strides.0 > 0, spec.strides.1 > 0 else {
            throw NetworkError(layer: name, "pool_size and strides must be positive")
        }
        let layout: ImageLayout = spec.dataFormat == .channelsFirst ? .nchw : .nhwc
        let (c, h, w) = layout == .nchw ? (inputShape[0], inputShape[1], inputShape[2])
                                        : (inputShape[2], inputShape[0], inputShape[1])
        let g = WindowGeometry(layout: layout, channels: c, inHeight: h, inWidth: w,
                               kernel: spec.poolSize, strides: spec.strides, same: spec.padding == .same)
        guard g.isValid else {
            throw NetworkError(layer: name, "pool size \(spec.poolSize) does not fit the input \(describeShape(inputShape)) with \(spec.padding.rawValue) padding")
        }
        self.outputShape = layout == .nchw ? [c, g.outHeight, g.outWidth] : [g.outHeight, g.outWidth, c]
        self.pool = MaxPoolKernel(geometry: g)
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples
        output.ensureShape([batch] + outputShape)
        let pool = self.pool
        input.withPointer { x in output.withMutablePointer { pool.forward(input: x, batch: batch, output: $0) } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let pool = self.pool, batch = input.samples
        gradOutput.withPointer { dy in gradInput.withMutablePointer { pool.backward(gradOutput: dy, batch: batch, gradInput: $0) } }
        return gradInput
    }
}
