import KerasFile
import Kernels

/// The window geometry of a rank-2 `ConvolutionSpec` over an image (c, h, w).
private func geometry(_ spec: ConvolutionSpec, c: Int, h: Int, w: Int, layer: String, inputShape: [Int]) throws -> WindowGeometry {
    guard spec.kernelSize.count == 2, spec.strides.count == 2, spec.dilationRate.count == 2,
          (spec.kernelSize + spec.strides + spec.dilationRate).allSatisfy({ $0 > 0 }) else {
        throw NetworkError(layer: layer, "kernel_size, strides and dilation_rate must be two positive integers")
    }
    let g = WindowGeometry(layout: spec.dataFormat.layout, channels: c, inHeight: h, inWidth: w,
                           kernel: (spec.kernelSize[0], spec.kernelSize[1]), strides: (spec.strides[0], spec.strides[1]),
                           same: spec.padding == .same, dilation: (spec.dilationRate[0], spec.dilationRate[1]))
    guard g.isValid else {
        throw NetworkError(layer: layer, "kernel \(describeShape(spec.kernelSize)) does not fit the input \(describeShape(inputShape)) with \(spec.padding.rawValue) padding")
    }
    return g
}

/// Keras's Conv1D as a Conv2D over one row: input (steps, channels) (channels_first: (channels,
/// steps)), kernel (k, in / groups, out), whose memory order is Conv2D's (1, k, in, out).
/// `causal` padding puts dilation * (k - 1) zeros before the sequence and none after
/// (tf_keras/src/layers/convolutional/conv1d.py pads, then convolves with valid).
func makeConv1DLayer(name: String, spec: ConvolutionSpec, inputShape: [Int], store: ParameterStore) throws -> Conv2DLayer {
    let (c, _, steps) = try sequenceDimensions(inputShape, spec.dataFormat, layer: name, className: "Conv1D")
    guard spec.kernelSize.count == 1, spec.strides.count == 1, spec.dilationRate.count == 1,
          (spec.kernelSize + spec.strides + spec.dilationRate).allSatisfy({ $0 > 0 }) else {
        throw NetworkError(layer: name, "kernel_size, strides and dilation_rate must be one positive integer each")
    }
    let k = spec.kernelSize[0], d = spec.dilationRate[0]
    let causalPad = spec.causal ? d * (k - 1) : 0
    var g = WindowGeometry(layout: spec.dataFormat.layout, channels: c, inHeight: 1, inWidth: steps + causalPad,
                           kernel: (1, k), strides: (1, spec.strides[0]), same: spec.padding == .same && !spec.causal, dilation: (1, d))
    if spec.causal {
        g.inWidth = steps
        g.padLeft = causalPad
    }
    guard g.isValid else {
        throw NetworkError(layer: name, "kernel \(k) does not fit the input \(describeShape(inputShape)) with \(spec.causal ? "causal" : spec.padding.rawValue) padding")
    }
    let outputShape = spec.dataFormat == .channelsFirst ? [spec.filters, g.outWidth] : [g.outWidth, spec.filters]
    return try Conv2DLayer(name: name, geometry: g, filters: spec.filters, groups: spec.groups, activation: spec.activation,
                           useBias: spec.useBias, kernelShape: [k, c / max(1, spec.groups), spec.filters],
                           outputShape: outputShape, store: store)
}

/// Keras's DepthwiseConv2D: kernel `depthwise_kernel` (kh, kw, channels, depth_multiplier), bias
/// (channels * depth_multiplier), output channel c * multiplier + m; by `DepthwiseConv2DKernel`.
final class DepthwiseConv2DLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let kernelParam: Parameter
    let biasParam: Parameter?
    private let depthwise: DepthwiseConv2DKernel
    private let activation: FusedActivation
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, spec: ConvolutionSpec, inputShape: [Int], store: ParameterStore) throws {
        self.name = name
        let (c, h, w) = try imageDimensions(inputShape, spec.dataFormat, layer: name, className: "DepthwiseConv2D")
        guard spec.depthMultiplier > 0 else { throw NetworkError(layer: name, "depth_multiplier must be positive") }
        let g = try geometry(spec, c: c, h: h, w: w, layer: name, inputShape: inputShape)
        depthwise = DepthwiseConv2DKernel(geometry: g, multiplier: spec.depthMultiplier)
        outputShape = imageShape(c: c * spec.depthMultiplier, h: g.outHeight, w: g.outWidth, spec.dataFormat)
        activation = FusedActivation(spec.activation, shape: outputShape)
        kernelParam = try store.parameter(layer: name, name: "depthwise_kernel", shape: [spec.kernelSize[0], spec.kernelSize[1], c, spec.depthMultiplier])
        biasParam = spec.useBias ? try store.parameter(layer: name, name: "bias", shape: [c * spec.depthMultiplier]) : nil
    }

    var parameters: [Parameter] { [kernelParam] + (biasParam.map { [$0] } ?? []) }
    var finalActivation: ActivationFunction { activation.function }
    var preActivation: Tensor? { activation.preActivation }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples, depthwise = self.depthwise
        activation.forward(into: &output, shape: [batch] + outputShape) { dst in
            input.withPointer { x in kernelParam.value.withPointer { k in
                withOptionalPointer(biasParam?.value) { b in depthwise.forward(input: x, batch: batch, kernel: k, bias: b, output: dst) }
            } }
        }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let dz = activation.backward(output: output, gradOutput: gradOutput, skip: skipActivation)
        if needInputGradient { gradInput.ensureShape(input.shape) }
        let depthwise = self.depthwise, batch = input.samples
        input.withPointer { x in dz.withPointer { dy in kernelParam.value.withPointer { k in
            kernelParam.gradient.withMutablePointer { gk in
                withOptionalMutablePointer(biasParam, \.gradient) { gb in
                    withOptionalMutablePointer(needInputGradient ? self : nil, \.gradInput) { dx in
                        depthwise.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: dx)
                    }
                }
            }
        } } }
        return needInputGradient ? gradInput : nil
    }
}

/// Keras's SeparableConv2D (TensorFlow's `separable_conv2d`): a depthwise convolution
/// (`depthwise_kernel` (kh, kw, channels, depth_multiplier), strides, padding, dilation) then a 1x1
/// convolution (`pointwise_kernel` (1, 1, channels * depth_multiplier, filters)) plus the bias.
final class SeparableConv2DLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let depthwiseParam: Parameter
    let pointwiseParam: Parameter
    let biasParam: Parameter?
    private let depthwise: DepthwiseConv2DKernel
    private let pointwise: any Convolution2D
    private let middleShape: [Int]
    private let activation: FusedActivation
    var output = Tensor(zeros: [0])
    private var middle = Tensor(zeros: [0])
    private var gradMiddle = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, spec: ConvolutionSpec, inputShape: [Int], store: ParameterStore) throws {
        self.name = name
        let (c, h, w) = try imageDimensions(inputShape, spec.dataFormat, layer: name, className: "SeparableConv2D")
        guard spec.depthMultiplier > 0, spec.filters > 0 else { throw NetworkError(layer: name, "filters and depth_multiplier must be positive") }
        let g = try geometry(spec, c: c, h: h, w: w, layer: name, inputShape: inputShape)
        let cm = c * spec.depthMultiplier
        depthwise = DepthwiseConv2DKernel(geometry: g, multiplier: spec.depthMultiplier)
        pointwise = makeConvolution2D(geometry: WindowGeometry(layout: g.layout, channels: cm, inHeight: g.outHeight, inWidth: g.outWidth,
                                                               kernel: (1, 1), strides: (1, 1), same: false), filters: spec.filters)
        middleShape = imageShape(c: cm, h: g.outHeight, w: g.outWidth, spec.dataFormat)
        outputShape = imageShape(c: spec.filters, h: g.outHeight, w: g.outWidth, spec.dataFormat)
        activation = FusedActivation(spec.activation, shape: outputShape)
        depthwiseParam = try store.parameter(layer: name, name: "depthwise_kernel", shape: [spec.kernelSize[0], spec.kernelSize[1], c, spec.depthMultiplier])
        pointwiseParam = try store.parameter(layer: name, name: "pointwise_kernel", shape: [1, 1, cm, spec.filters])
        biasParam = spec.useBias ? try store.parameter(layer: name, name: "bias", shape: [spec.filters]) : nil
    }

    var parameters: [Parameter] { [depthwiseParam, pointwiseParam] + (biasParam.map { [$0] } ?? []) }
    var finalActivation: ActivationFunction { activation.function }
    var preActivation: Tensor? { activation.preActivation }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples, depthwise = self.depthwise, pointwise = self.pointwise
        middle.ensureShape([batch] + middleShape)
        input.withPointer { x in depthwiseParam.value.withPointer { k in middle.withMutablePointer { m in
            depthwise.forward(input: x, batch: batch, kernel: k, bias: nil, output: m)
        } } }
        activation.forward(into: &output, shape: [batch] + outputShape) { dst in
            middle.withPointer { m in pointwiseParam.value.withPointer { k in
                withOptionalPointer(biasParam?.value) { b in pointwise.forward(input: m, batch: batch, kernel: k, bias: b, output: dst) }
            } }
        }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let dz = activation.backward(output: output, gradOutput: gradOutput, skip: skipActivation)
        let depthwise = self.depthwise, pointwise = self.pointwise, batch = input.samples
        gradMiddle.ensureShape(middle.shape)
        middle.withPointer { m in dz.withPointer { dy in pointwiseParam.value.withPointer { k in
            pointwiseParam.gradient.withMutablePointer { gk in gradMiddle.withMutablePointer { dm in
                withOptionalMutablePointer(biasParam, \.gradient) { gb in
                    pointwise.backward(input: m, gradOutput: dy, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: dm)
                }
            } }
        } } }
        if needInputGradient { gradInput.ensureShape(input.shape) }
        input.withPointer { x in gradMiddle.withPointer { dm in depthwiseParam.value.withPointer { k in
            depthwiseParam.gradient.withMutablePointer { gk in
                withOptionalMutablePointer(needInputGradient ? self : nil, \.gradInput) { dx in
                    depthwise.backward(input: x, gradOutput: dm, batch: batch, kernel: k, gradKernel: gk, gradBias: nil, gradInput: dx)
                }
            }
        } } }
        return needInputGradient ? gradInput : nil
    }
}

/// Keras's Conv2DTranspose: kernel (kh, kw, filters, in) and bias (filters); the output size is
/// Keras's `deconv_output_length` (with `output_padding` when given), computed by
/// `TransposedConv2DKernel` in channels_last (channels_first images are transposed around it).
final class Conv2DTransposeLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let kernelParam: Parameter
    let biasParam: Parameter?
    private let kernel: TransposedConv2DKernel
    private let channelsFirst: Bool
    private let activation: FusedActivation
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])
    // channels_first: the input, the output and the gradients in channels_last.
    private var xLast = Tensor(zeros: [0])
    private var yLast = Tensor(zeros: [0])
    private var dyLast = Tensor(zeros: [0])
    private var dxLast = Tensor(zeros: [0])

    /// tf_keras/src/utils/conv_utils.py `deconv_output_length`.
    static func outputLength(input: Int, kernel: Int, padding: Padding, outputPadding: Int?, stride: Int, dilation: Int) -> Int {
        let k = kernel + (kernel - 1) * (dilation - 1)
        guard let outputPadding else {
            return padding == .valid ? input * stride + max(k - stride, 0) : input * stride
        }
        let pad = padding == .same ? k / 2 : 0
        return (input - 1) * stride + k - 2 * pad + outputPadding
    }

    init(name: String, spec: ConvolutionSpec, inputShape: [Int], store: ParameterStore) throws {
        self.name = name
        let (c, h, w) = try imageDimensions(inputShape, spec.dataFormat, layer: name, className: "Conv2DTranspose")
        guard spec.filters > 0 else { throw NetworkError(layer: name, "filters must be positive") }
        if let op = spec.outputPadding {
            guard op.count == 2, op[0] < spec.strides[0], op[1] < spec.strides[1] else {
                throw NetworkError(layer: name, "output_padding \(describeShape(op)) must be smaller than the strides \(describeShape(spec.strides))")
            }
        }
        let outH = Self.outputLength(input: h, kernel: spec.kernelSize[0], padding: spec.padding, outputPadding: spec.outputPadding?[0],
                                     stride: spec.strides[0], dilation: spec.dilationRate[0])
        let outW = Self.outputLength(input: w, kernel: spec.kernelSize[1], padding: spec.padding, outputPadding: spec.outputPadding?[1],
                                     stride: spec.strides[1], dilation: spec.dilationRate[1])
        var last = spec
        last.dataFormat = .channelsLast
        // The convolution this layer is the input gradient of: from the output (filters channels) to the input.
        let g = try geometry(last, c: spec.filters, h: outH, w: outW, layer: name, inputShape: inputShape)
        guard g.outHeight == h, g.outWidth == w else {
            throw NetworkError(layer: name, "an output of \(outH) x \(outW) does not convolve back to the input \(h) x \(w)")
        }
        kernel = TransposedConv2DKernel(geometry: g, inChannels: c)
        channelsFirst = spec.dataFormat == .channelsFirst
        outputShape = imageShape(c: spec.filters, h: outH, w: outW, spec.dataFormat)
        activation = FusedActivation(spec.activation, shape: outputShape)
        kernelParam = try store.parameter(layer: name, name: "kernel", shape: [spec.kernelSize[0], spec.kernelSize[1], spec.filters, c])
        biasParam = spec.useBias ? try store.parameter(layer: name, name: "bias", shape: [spec.filters]) : nil
    }

    var parameters: [Parameter] { [kernelParam] + (biasParam.map { [$0] } ?? []) }
    var finalActivation: ActivationFunction { activation.function }
    var preActivation: Tensor? { activation.preActivation }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples, kernel = self.kernel
        func run(_ x: Tensor, _ dst: UnsafeMutablePointer<Float>) {
            x.withPointer { xp in kernelParam.value.withPointer { k in
                withOptionalPointer(biasParam?.value) { b in kernel.forward(input: xp, batch: batch, kernel: k, bias: b, output: dst) }
            } }
        }
        guard channelsFirst else {
            return activation.forward(into: &output, shape: [batch] + outputShape) { run(input, $0) }
        }
        let x = toChannelsLast(input, into: &xLast)
        yLast.ensureShape([batch, kernel.outputCount])
        yLast.withMutablePointer { run(x, $0) }
        let g = kernel.geometry, n = kernel.outputCount
        activation.forward(into: &output, shape: [batch] + outputShape) { dst in
            yLast.withPointer { src in
                for s in 0..<batch { transpose(src + s * n, rows: g.inHeight * g.inWidth, columns: g.channels, into: dst + s * n) }
            }
        }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let dz = activation.backward(output: output, gradOutput: gradOutput, skip: skipActivation)
        let kernel = self.kernel, batch = input.samples
        let x = channelsFirst ? toChannelsLast(input, into: &xLast) : input
        let dy = channelsFirst ? toChannelsLast(dz, into: &dyLast, outputSide: true) : dz
        if needInputGradient {
            if channelsFirst { dxLast.ensureShape([batch, kernel.inputCount]) } else { gradInput.ensureShape(input.shape) }
        }
        let wantsInput = needInputGradient
        x.withPointer { xp in dy.withPointer { d in kernelParam.value.withPointer { k in
            kernelParam.gradient.withMutablePointer { gk in
                withOptionalMutablePointer(biasParam, \.gradient) { gb in
                    if !wantsInput {
                        kernel.backward(input: xp, gradOutput: d, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: nil)
                    } else if channelsFirst {
                        dxLast.withMutablePointer { dx in
                            kernel.backward(input: xp, gradOutput: d, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: dx)
                        }
                    } else {
                        gradInput.withMutablePointer { dx in
                            kernel.backward(input: xp, gradOutput: d, batch: batch, kernel: k, gradKernel: gk, gradBias: gb, gradInput: dx)
                        }
                    }
                }
            }
        } } }
        guard needInputGradient else { return nil }
        if channelsFirst {
            gradInput.ensureShape(input.shape)
            let g = kernel.geometry, n = kernel.inputCount
            dxLast.withPointer { src in gradInput.withMutablePointer { dst in
                for s in 0..<batch { transpose(src + s * n, rows: g.positions, columns: n / g.positions, into: dst + s * n) }
            } }
        }
        return gradInput
    }

    /// A channels_first batch (the layer's input, or with `outputSide` its output gradient) in channels_last.
    private func toChannelsLast(_ t: Tensor, into buffer: inout Tensor, outputSide: Bool = false) -> Tensor {
        let g = kernel.geometry, batch = t.samples
        let (channels, spatial) = outputSide ? (g.channels, g.inHeight * g.inWidth) : (kernel.inChannels, g.positions)
        buffer.ensureShape([batch, channels * spatial])
        t.withPointer { src in buffer.withMutablePointer { dst in
            for s in 0..<batch { transpose(src + s * channels * spatial, rows: channels, columns: spatial, into: dst + s * channels * spatial) }
        } }
        return buffer
    }
}

func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withPointer { body($0) }
}

/// `body` with a pointer into `object[keyPath: path]`, or nil when there is no object.
func withOptionalMutablePointer<T: AnyObject, R>(_ object: T?, _ path: ReferenceWritableKeyPath<T, Tensor>,
                                                 _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard let object else { return body(nil) }
    return object[keyPath: path].withMutablePointer { body($0) }
}
