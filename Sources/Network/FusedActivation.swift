import KerasFile
import Kernels

/// The activation a layer with weights applies to its sums (Keras's `activation` argument): the
/// sums go into `z` (or straight into the output when linear), which tf.keras keeps as logits.
final class FusedActivation {
    let function: ActivationFunction
    private let kernel: ActivationKernel
    private(set) var z = Tensor(zeros: [0])
    private var gradZ = Tensor(zeros: [0])

    init(_ function: ActivationFunction, shape: [Int]) {
        self.function = function
        self.kernel = function.kernel(shape: shape)
    }

    var preActivation: Tensor? { function == .linear ? nil : z }

    /// `compute` writes the sums for `shape`; `output` gets the activation of them.
    func forward(into output: inout Tensor, shape: [Int], _ compute: (UnsafeMutablePointer<Float>) -> Void) {
        output.ensureShape(shape)
        guard function != .linear else { return output.withMutablePointer { compute($0) } }
        z.ensureShape(shape)
        z.withMutablePointer { compute($0) }
        let a = kernel, n = z.count
        z.withPointer { zp in output.withMutablePointer { a.forward(zp, $0, count: n) } }
    }

    /// The gradient w.r.t. the sums (`gradOutput` itself when linear or `skip`).
    func backward(output: Tensor, gradOutput: Tensor, skip: Bool) -> Tensor {
        guard function != .linear, !skip else { return gradOutput }
        gradZ.ensureShape(gradOutput.shape)
        let a = kernel, n = gradOutput.count
        z.withPointer { zp in output.withPointer { y in gradOutput.withPointer { dy in gradZ.withMutablePointer { dx in
            a.backward(input: zp, output: y, gradOutput: dy, gradInput: dx, count: n)
        } } } }
        return gradZ
    }
}

/// (height, width, channels) of an image per sample in `format`, or an error naming the layer.
func imageDimensions(_ shape: [Int], _ format: DataFormat, layer: String, className: String) throws -> (c: Int, h: Int, w: Int) {
    guard shape.count == 3 else {
        throw NetworkError(layer: layer, "\(className) needs a rank-3 input per sample, got \(describeShape(shape))")
    }
    return format == .channelsFirst ? (shape[0], shape[1], shape[2]) : (shape[2], shape[0], shape[1])
}

/// A sequence per sample ((steps, channels), or (channels, steps) under channels_first) as a
/// one-row image: (c, 1, steps).
func sequenceDimensions(_ shape: [Int], _ format: DataFormat, layer: String, className: String) throws -> (c: Int, h: Int, w: Int) {
    guard shape.count == 2 else {
        throw NetworkError(layer: layer, "\(className) needs a rank-2 input per sample, got \(describeShape(shape))")
    }
    return format == .channelsFirst ? (shape[0], 1, shape[1]) : (shape[1], 1, shape[0])
}

/// A per-sample image shape in `format`.
func imageShape(c: Int, h: Int, w: Int, _ format: DataFormat) -> [Int] {
    format == .channelsFirst ? [c, h, w] : [h, w, c]
}

extension DataFormat {
    var layout: ImageLayout { self == .channelsFirst ? .nchw : .nhwc }
}
