import XCTest
@testable import Kernels

/// Which algorithm `makeConvolution2D` picks: the FFT for the seed's first layer (one input
/// channel, 16 x 16 kernel, 17 x 17 outputs), F(2, 4) Winograd for its second (one 2 x 2 output
/// tile; 64 input channels make the FFT's spectral products alone exceed the direct ones), paired
/// Winograd for other large stride-1 kernels, im2col + GEMM for 3x3 and strided kernels.
final class Convolution2DTests: XCTestCase {
    func testEachShapeGetsTheAlgorithmWithTheLeastWork() {
        let conv1 = WindowGeometry(layout: .nchw, channels: 1, inHeight: 32, inWidth: 32, kernel: (16, 16), strides: (1, 1), same: false)
        let conv2 = WindowGeometry(layout: .nchw, channels: 64, inHeight: 17, inWidth: 17, kernel: (16, 16), strides: (1, 1), same: false)
        XCTAssertTrue(makeConvolution2D(geometry: conv1, filters: 64) is FFTConv2DKernel)
        XCTAssertTrue(makeConvolution2D(geometry: conv2, filters: 128) is QuadWinogradConv2DKernel)
        // A small output leaves the FFT nothing to share: Winograd.
        let smallOutput = WindowGeometry(layout: .nhwc, channels: 1, inHeight: 19, inWidth: 19, kernel: (16, 16), strides: (1, 1), same: false)
        XCTAssertTrue(makeConvolution2D(geometry: smallOutput, filters: 64) is WinogradConv2DKernel)
        // 3x3 (same work either way for Winograd pairs, four times the work for an FFT) and
        // strided convolutions stay on im2col.
        let small = WindowGeometry(layout: .nhwc, channels: 8, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)
        let strided = WindowGeometry(layout: .nhwc, channels: 8, inHeight: 32, inWidth: 32, kernel: (8, 8), strides: (2, 2), same: true)
        XCTAssertTrue(makeConvolution2D(geometry: small, filters: 8) is Conv2DKernel)
        XCTAssertTrue(makeConvolution2D(geometry: strided, filters: 8) is Conv2DKernel)
    }
}
