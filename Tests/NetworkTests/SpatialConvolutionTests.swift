import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

/// Conv2D's dilation, Conv1D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose: forward
/// against Double references, gradients against their finite differences, both data formats.
final class SpatialConvolutionTests: XCTestCase {
    let store = ParameterStore()

    func testConv2DDilation() throws {
        for cf in [true, false] { for same in [false, true] { for dil in [(2, 2), (1, 3)] {
            let spec = Conv2DSpec(filters: 3, kernelSize: (3, 2), padding: same ? .same : .valid,
                                  dataFormat: cf ? .channelsFirst : .channelsLast, dilationRate: dil, activation: .relu)
            let (c, h, w) = (2, 8, 7)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try Conv2DLayer(name: "conv", spec: spec, inputShape: shape)
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
            let (oh, pt) = refWindow(h, 3, 1, dilation: dil.0, same: same), (ow, pl) = refWindow(w, 2, 1, dilation: dil.1, same: same)
            XCTAssertEqual(layer.outputShape, cf ? [3, oh, ow] : [oh, ow, 3])
            checkLayer(layer, inputShape: shape) { x, p in
                let z = refConvGeneral(x, batch: 2, img: img, outChannels: 3, kh: 3, kw: 2, strides: (1, 1), dilation: dil, pads: (pt, pl),
                                       outSize: (oh, ow), bias: p[1], inputsOf: { _ in Array(0..<c) },
                                       kernel: { i, j, ci, o in p[0][((i * 2 + j) * c + ci) * 3 + o] })
                return refActivate(z.y, .relu, rowLength: 1)
            }
        } } }
    }

    func testConv1DPaddingsStridesDilationGroups() throws {
        for cf in [true, false] { for padding in ["valid", "same", "causal"] { for (s, d) in [(1, 1), (2, 1), (1, 2)] { for groups in [1, 2] {
            let spec = ConvolutionSpec(filters: 4, kernelSize: [3], strides: [s], padding: padding == "same" ? .same : .valid,
                                       causal: padding == "causal", dataFormat: cf ? .channelsFirst : .channelsLast,
                                       dilationRate: [d], activation: .tanh, groups: groups)
            let (c, steps) = (2, 9)
            let shape = cf ? [c, steps] : [steps, c]
            let layer = try makeConv1DLayer(name: "c1", spec: spec, inputShape: shape, store: ParameterStore())
            XCTAssertEqual(layer.kernelParam.shape, [3, c / groups, 4])
            let img = RefImage(channelsFirst: cf, c: c, h: 1, w: steps)
            let (ow, pl) = refWindow(steps, 3, s, dilation: d, same: padding == "same", leadingPad: padding == "causal" ? d * 2 : nil)
            XCTAssertEqual(layer.outputShape, cf ? [4, ow] : [ow, 4])
            checkLayer(layer, inputShape: shape) { x, p in
                let z = refConvGeneral(x, batch: 2, img: img, outChannels: 4, kh: 1, kw: 3, strides: (1, s), dilation: (1, d), pads: (0, pl),
                                       outSize: (1, ow), bias: p[1], inputsOf: { o in groups == 1 ? [0, 1] : [o / 2] },
                                       kernel: { _, j, ci, o in p[0][(j * (c / groups) + ci % (c / groups)) * 4 + o] })
                return refActivate(z.y, .tanh, rowLength: 1)
            }
        } } } }
    }

    func testDepthwiseConv2D() throws {
        for cf in [true, false] { for same in [false, true] { for (s, d) in [(1, 1), (2, 1), (1, 2)] { for m in [1, 2] {
            let spec = ConvolutionSpec(filters: 0, kernelSize: [3, 2], strides: [s, s], padding: same ? .same : .valid,
                                       dataFormat: cf ? .channelsFirst : .channelsLast, dilationRate: [d, d], activation: .relu,
                                       depthMultiplier: m)
            let (c, h, w) = (3, 7, 6)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try DepthwiseConv2DLayer(name: "dw", spec: spec, inputShape: shape, store: ParameterStore())
            XCTAssertEqual(layer.kernelParam.shape, [3, 2, c, m])
            XCTAssertEqual(layer.kernelParam.weightName, "depthwise_kernel")
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
            let (oh, pt) = refWindow(h, 3, s, dilation: d, same: same), (ow, pl) = refWindow(w, 2, s, dilation: d, same: same)
            checkLayer(layer, inputShape: shape) { x, p in
                let z = refConvGeneral(x, batch: 2, img: img, outChannels: c * m, kh: 3, kw: 2, strides: (s, s), dilation: (d, d), pads: (pt, pl),
                                       outSize: (oh, ow), bias: p[1], inputsOf: { o in [o / m] },
                                       kernel: { i, j, ci, o in p[0][((i * 2 + j) * c + ci) * m + o % m] })
                return refActivate(z.y, .relu, rowLength: 1)
            }
        } } } }
    }

    func testSeparableConv2D() throws {
        for cf in [true, false] { for same in [false, true] { for m in [1, 2] {
            let spec = ConvolutionSpec(filters: 4, kernelSize: [3, 3], strides: [same ? 2 : 1, same ? 2 : 1], padding: same ? .same : .valid,
                                       dataFormat: cf ? .channelsFirst : .channelsLast, activation: .sigmoid, depthMultiplier: m)
            let (c, h, w) = (2, 6, 7)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try SeparableConv2DLayer(name: "sep", spec: spec, inputShape: shape, store: ParameterStore())
            XCTAssertEqual(layer.parameters.map(\.weightName), ["depthwise_kernel", "pointwise_kernel", "bias"])
            XCTAssertEqual(layer.pointwiseParam.shape, [1, 1, c * m, 4])
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
            let s = same ? 2 : 1
            let (oh, pt) = refWindow(h, 3, s, same: same), (ow, pl) = refWindow(w, 3, s, same: same)
            checkLayer(layer, inputShape: shape) { x, p in
                let mid = refConvGeneral(x, batch: 2, img: img, outChannels: c * m, kh: 3, kw: 3, strides: (s, s), dilation: (1, 1), pads: (pt, pl),
                                         outSize: (oh, ow), bias: nil, inputsOf: { o in [o / m] },
                                         kernel: { i, j, ci, o in p[0][((i * 3 + j) * c + ci) * m + o % m] })
                let z = refConv(mid.y, batch: 2, img: mid.out, kernel: p[1], bias: p[2], kh: 1, kw: 1, filters: 4, strides: (1, 1), same: false)
                return refActivate(z.y, .sigmoid, rowLength: 1)
            }
        } } }
    }

    func testConv2DTransposeSizesAndGradients() throws {
        for cf in [true, false] { for same in [false, true] { for s in [1, 2] { for op in [nil, 1] as [Int?] {
            if let op, op >= s { continue }
            let spec = ConvolutionSpec(filters: 3, kernelSize: [3, 2], strides: [s, s], padding: same ? .same : .valid,
                                       dataFormat: cf ? .channelsFirst : .channelsLast, activation: .linear,
                                       outputPadding: op.map { [$0, $0] })
            let (c, h, w) = (2, 4, 5)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try Conv2DTransposeLayer(name: "tr", spec: spec, inputShape: shape, store: ParameterStore())
            XCTAssertEqual(layer.kernelParam.shape, [3, 2, 3, c])
            func length(_ n: Int, _ k: Int) -> Int {
                guard let op else { return same ? n * s : n * s + max(k - s, 0) }
                return (n - 1) * s + k - 2 * (same ? k / 2 : 0) + op
            }
            let (oh, ow) = (length(h, 3), length(w, 2))
            XCTAssertEqual(layer.outputShape, cf ? [3, oh, ow] : [oh, ow, 3])
            let pt = refOutSize(oh, 3, s, same: same).1, pl = refOutSize(ow, 2, s, same: same).1
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
            checkLayer(layer, inputShape: shape) { x, p in
                refConvTranspose(x, batch: 2, img: img, filters: 3, kh: 3, kw: 2, strides: (s, s), outSize: (oh, ow), pads: (pt, pl),
                                 kernel: p[0], bias: p[1]).y
            }
        } } } }
    }

    /// The dedicated depthwise kernel equals a grouped convolution with one channel per group.
    func testDepthwiseKernelMatchesGroupedConvolution() {
        for layout in [ImageLayout.nhwc, .nchw] {
            let g = WindowGeometry(layout: layout, channels: 4, inHeight: 9, inWidth: 8, kernel: (3, 3), strides: (1, 1), same: true)
            let dw = DepthwiseConv2DKernel(geometry: g, multiplier: 1, workers: 2)
            let grouped = GroupedConvolution2D(geometry: g, filters: 4, groups: 4)
            let x = randomValues(3 * g.inputCount, seed: 3).map(Float.init), k = randomValues(36, seed: 4).map(Float.init)
            var a = [Float](repeating: 0, count: 3 * 4 * g.positions), b = a
            dw.forward(input: x, batch: 3, kernel: k, bias: nil, output: &a)
            grouped.forward(input: x, batch: 3, kernel: k, bias: nil, output: &b)
            XCTAssertLessThan(relativeError(a.map(Double.init), b.map(Double.init)), 1e-6)
        }
    }
}
