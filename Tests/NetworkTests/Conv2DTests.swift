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

    func testOutputShapesAndKerasKernelLayout() throws {
        let cf = try Conv2DLayer(name: "c", spec: Conv2DSpec(filters: 64, kernelSize: (16, 16), dataFormat: .channelsFirst), inputShape: [1, 32, 32])
        XCTAssertEqual(cf.outputShape, [64, 17, 17])
        XCTAssertEqual(cf.kernelParam.shape, [16, 16, 1, 64])
        let cl = try Conv2DLayer(name: "c", spec: Conv2DSpec(filters: 8, kernelSize: (3, 3), strides: (2, 2), padding: .same), inputShape: [7, 7, 3])
        XCTAssertEqual(cl.outputShape, [4, 4, 8])
        XCTAssertEqual(cl.kernelParam.shape, [3, 3, 3, 8])
    }

    func testDilationAndBadShapesAreErrorsNamingTheLayer() {
        XCTAssertThrowsError(try Conv2DLayer(name: "dil", spec: Conv2DSpec(filters: 1, kernelSize: (3, 3), dilationRate: (2, 2)), inputShape: [8, 8, 1])) {
            XCTAssertTrue("\($0)".contains("dil") && "\($0)".contains("dilation"), "\($0)")
        }
        XCTAssertThrowsError(try Conv2DLayer(name: "big", spec: Conv2DSpec(filters: 1, kernelSize: (9, 9)), inputShape: [8, 8, 1])) {
            XCTAssertTrue("\($0)".contains("big"), "\($0)")
        }
        XCTAssertThrowsError(try Conv2DLayer(name: "rank", spec: Conv2DSpec(filters: 1, kernelSize: (1, 1)), inputShape: [8, 8]))
    }
}
