import KerasFile
import Kernels

/// Keras's Conv2D (and Conv1D as one row): valid/same padding, strides, dilation, groups, optional bias, a fused activation, either data
/// format. Kernel (kh, kw, in, out) and bias (out) as Keras stores them.
final class Conv2DLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let kernelParam: Parameter
    let biasParam: Parameter?
    private let function: ActivationFunction
    private let conv: any Convolution2D
    private let activation: ActivationKernel
    var output = Tensor(zeros: [0])
    private var z = Tensor(zeros: [0])          // pre-activation (only with a non-linear activation)
    private var gradZ = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])
    /// The input and kernel of the last training forward, held until the backward that follows
    /// it: while this layer shares their storage, copy-on-write guarantees that nobody changed
    /// them, so the backward may reuse what the forward computed from them.
    private var forwardInput: Tensor?
    private var forwardKernel: Tensor?

    convenience init(name: String, spec: Conv2DSpec, inputShape: [Int], store: ParameterStore = ParameterStore()) throws {
        guard inputShape.count == 3 else {
            throw NetworkError(layer: name, "Conv2D needs a rank-3 input per sample, got \(describeShape(inputShape))")
        }
        guard spec.filters > 0, spec.kernelSize.0 > 0, spec.kernelSize.1 > 0, spec.strides.0 > 0, spec.strides.1 > 0,
              spec.dilationRate.0 > 0, spec.dilationRate.1 > 0 else {
            throw NetworkError(layer: name, "filters, kernel_size, strides and dilation_rate must be positive")
        }
        let layout: ImageLayout = spec.dataFormat == .channelsFirst ? .nchw : .nhwc
        let (c, h, w) = layout == .nchw ? (inputShape[0], inputShape[1], inputShape[2])
                                        : (inputShape[2], inputShape[0], inputShape[1])
        let g = WindowGeometry(layout: layout, channels: c, inHeight: h, inWidth: w, kernel: spec.kernelSize,
                               strides: spec.strides, same: spec.padding == .same, dilation: spec.dilationRate)
        guard g.isValid else {
            throw NetworkError(layer: name, "kernel \(spec.kernelSize) does not fit the input \(describeShape(inputShape)) with \(spec.padding.rawValue) padding")
        }
        let outputShape = layout == .nchw ? [spec.filters, g.outHeight, g.outWidth] : [g.outHeight, g.outWidth, spec.filters]
        try self.init(name: name, geometry: g, filters: spec.filters, groups: spec.groups, activation: spec.activation,
                      useBias: spec.useBias, kernelShape: [spec.kernelSize.0, spec.kernelSize.1, c / max(1, spec.groups), spec.filters],
                      outputShape: outputShape, store: store)
    }

    /// Any convolution over `geometry` (Conv1D: one row), with the kernel stored as `kernelShape`
    /// (Keras's (kh, kw, in / groups, out) in that memory order).
    init(name: String, geometry g: WindowGeometry, filters: Int, groups: Int, activation: ActivationFunction, useBias: Bool,
         kernelShape: [Int], outputShape: [Int], store: ParameterStore) throws {
        self.name = name
        self.function = activation
        self.outputShape = outputShape
        // Keras's own check (base_conv.py): channels and filters split evenly into the groups.
        guard g.channels % groups == 0, filters % groups == 0 else {
            throw NetworkError(layer: name, "groups = \(groups) must divide the input channels (\(g.channels)) and the filters (\(filters))")
        }
        // Sized before the kernels plan their buffers: 2^62 filters is refused, not overflowed.
        try Graph.checkSampleShape(outputShape, layer: name, what: "output of shape")
        self.conv = groups == 1 ? makeConvolution2D(geometry: g, filters: filters)
            : GroupedConvolution2D(geometry: g, filters: filters, groups: groups)
        self.activation = activation.kernel(shape: outputShape)
        self.kernelParam = try store.parameter(layer: name, name: "kernel", shape: kernelShape)
        self.biasParam = useBias ? try store.parameter(layer: name, name: "bias", shape: [filters]) : nil
    }

    var parameters: [Parameter] { [kernelParam] + (biasParam.map { [$0] } ?? []) }
    var finalActivation: ActivationFunction { function }
    var preActivation: Tensor? { function == .linear ? nil : z }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples
        let shape = [batch] + outputShape
        output.ensureShape(shape)
        let linear = function == .linear
        if !linear { z.ensureShape(shape) }
        (forwardInput, forwardKernel) = training ? (input, kernelParam.value) : (nil, nil)
        let conv = self.conv
        func run(_ dst: UnsafeMutablePointer<Float>) {
            input.withPointer { x in kernelParam.value.withPointer { k in
                if let biasParam {
                    biasParam.value.withPointer { b in conv.forward(input: x, batch: batch, kernel: k, bias: b, output: dst) }
                } else {
                    conv.forward(input: x, batch: batch, kernel: k, bias: nil, output: dst)
                }
            } }
        }
        if linear {
            output.withMutablePointer { run($0) }
        } else {
            z.withMutablePointer { run($0) }
            let a = activation, n = z.count
            z.withPointer { zp in output.withMutablePointer { a.forward(zp, $0, count: n) } }
        }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let batch = input.samples
        var dz = gradOutput
        if function != .linear && !skipActivation {
            gradZ.ensureShape(gradOutput.shape)
            let a = activation, n = gradOutput.count
            z.withPointer { x in output.withPointer { y in gradOutput.withPointer { dy in gradZ.withMutablePointer { dx in
                a.backward(input: x, output: y, gradOutput: dy, gradInput: dx, count: n)
            } } } }
            dz = gradZ
        }
        if needInputGradient { gradInput.ensureShape(input.shape) }
        let sameAsForward = forwardInput.map { sharesStorage($0, input) } == true
            && forwardKernel.map { sharesStorage($0, kernelParam.value) } == true
        (forwardInput, forwardKernel) = (nil, nil)
        let conv = self.conv
        input.withPointer { x in dz.withPointer { dy in kernelParam.value.withPointer { k in
            kernelParam.gradient.withMutablePointer { gk in
                func run(_ gb: UnsafeMutablePointer<Float>?) {
                    if needInputGradient {
                        gradInput.withMutablePointer { dx in
                            conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: dx,
                                          sameAsLastForward: sameAsForward)
                        }
                    } else {
                        conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: nil,
                                      sameAsLastForward: sameAsForward)
                    }
                }
                if let biasParam { biasParam.gradient.withMutablePointer { run($0) } } else { run(nil) }
            }
        } } }
        return needInputGradient ? gradInput : nil
    }
}
