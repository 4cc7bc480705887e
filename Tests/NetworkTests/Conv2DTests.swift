import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class Conv2DTests: XCTestCase {
    func testGradientsBothFormatsPaddingsAndStrides() throws {
        for cf in [true, false] { for same in [false, true] { for s in [1, 2] {
            for (act, bias) in [(ActivationFunction.linear, true), (.relu, true), (.tanh, false)] {
                let spec = Conv2DSpec(filters: 3, kernelSize: (3, 2), strides: (s, s), padding: same ? .same : .valid,
                                      dataFormat: cf ? .channelsFirst : .channelsLast, activation: act, useBias: bias)
                let (c, h, w) = (2, 6, 5)
                let shape = cf ? [c, h, w] : [h, w, c]
                let layer = try Conv2DLayer(name: "conv", spec: spec, inputShape: shape)
                let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
                checkLayer(layer, inputShape: shape) { x, p in
                    let z = refConv(x, batch: 2, img: img, kernel: p[0], bias: bias ? p[1] : nil, kh: 3, kw: 2, filters: 3,
                                    strides: (s, s), same: same)
                    return refActivate(z.y, act.ref, rowLength: cf ? z.out.w : 3)
                }
            }
        } } }
    }

    /// A layer whose algorithm can reuse its forward's transforms (paired Winograd here) does so
    /// only for the tensors that forward saw: a backward for another input, or after the kernel
    /// changed, gives what a fresh layer gives.
    func testBackwardReusesTheForwardOnlyForItsOwnTensors() throws {
        let spec = Conv2DSpec(filters: 3, kernelSize: (4, 4), dataFormat: .channelsFirst)
        let shape = [2, 9, 8]
        func layer() throws -> Conv2DLayer {
            let l = try Conv2DLayer(name: "conv", spec: spec, inputShape: shape)
            l.kernelParam.value = Tensor(shape: l.kernelParam.shape, data: randomValues(l.kernelParam.value.count, seed: 4).map(Float.init))
            return l
        }
        XCTAssertTrue(makeConvolution2D(geometry: WindowGeometry(layout: .nchw, channels: 2, inHeight: 9, inWidth: 8, kernel: (4, 4),
                                                                 strides: (1, 1), same: false), filters: 3) is WinogradConv2DKernel)
        let x = Tensor(shape: [3] + shape, data: randomValues(3 * 144, seed: 5).map(Float.init))
        var changed = x
        changed.data[7] += 1
        let dy = Tensor(shape: [3, 3, 6, 5], data: randomValues(3 * 90, seed: 6).map(Float.init))
        var rng = SeededGenerator(seed: 1)
        func gradients(_ l: Conv2DLayer, forward: Tensor, backward: Tensor) -> [Float] {
            l.forward(forward, training: true, rng: &rng)
            l.kernelParam.gradient = Tensor(zeros: l.kernelParam.shape)
            let dx = l.backward(input: backward, gradOutput: dy, skipActivation: false, needInputGradient: true)!
            return l.kernelParam.gradient.data + dx.data
        }
        let reference = gradients(try layer(), forward: changed, backward: changed)
        XCTAssertTrue(gradients(try layer(), forward: x, backward: changed) == reference, "another input")
        let l = try layer()
        l.forward(x, training: true, rng: &rng)
        l.kernelParam.value.data[0] += 1
        let kernelChanged = try layer()
        kernelChanged.kernelParam.value = l.kernelParam.value
        l.kernelParam.gradient = Tensor(zeros: l.kernelParam.shape)
        kernelChanged.kernelParam.gradient = Tensor(zeros: l.kernelParam.shape)
        let dxChanged = l.backward(input: x, gradOutput: dy, skipActivation: false, needInputGradient: true)!
        XCTAssertTrue(l.kernelParam.gradient.data + dxChanged.data == gradients(kernelChanged, forward: x, backward: x), "another kernel")
    }

    func testOutputShapesAndKerasKernelLayout() throws {
        let cf = try Conv2DLayer(name: "c", spec: Conv2DSpec(filters: 64, kernelSize: (16, 16), dataFormat: .channelsFirst), inputShape: [1, 32, 32])
        XCTAssertEqual(cf.outputShape, [64, 17, 17])
        XCTAssertEqual(cf.kernelParam.shape, [16, 16, 1, 64])
        let cl = try Conv2DLayer(name: "c", spec: Conv2DSpec(filters: 8, kernelSize: (3, 3), strides: (2, 2), padding: .same), inputShape: [7, 7, 3])
        XCTAssertEqual(cl.outputShape, [4, 4, 8])
        XCTAssertEqual(cl.kernelParam.shape, [3, 3, 3, 8])
    }

    func testBadShapesAreErrorsNamingTheLayer() {
        XCTAssertThrowsError(try Conv2DLayer(name: "big", spec: Conv2DSpec(filters: 1, kernelSize: (9, 9)), inputShape: [8, 8, 1])) {
            XCTAssertTrue("\($0)".contains("big"), "\($0)")
        }
        XCTAssertThrowsError(try Conv2DLayer(name: "rank", spec: Conv2DSpec(filters: 1, kernelSize: (1, 1)), inputShape: [8, 8]))
    }
}
