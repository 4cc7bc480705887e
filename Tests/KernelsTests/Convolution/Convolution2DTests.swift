import XCTest
@testable import Kernels

/// Which algorithm `makeConvolution2D` picks: the FFT for the seed's first layer (one input
/// channel, 16 x 16 kernel, 17 x 17 outputs), F(2, 4) Winograd for its second (one 2 x 2 output
/// tile; 64 input channels make the FFT's spectral products alone exceed the direct ones), paired
/// Winograd for other large stride-1 kernels, F(2 x 2, 3 x 3) for 3x3 stride-1 kernels on whole
/// lanes of channels, im2col + GEMM for 3x3 on few channels and strided kernels.
final class Convolution2DTests: XCTestCase {
    func testEachShapeGetsTheAlgorithmWithTheLeastWork() {
        let conv1 = WindowGeometry(layout: .nchw, channels: 1, inHeight: 32, inWidth: 32, kernel: (16, 16), strides: (1, 1), same: false)
        let conv2 = WindowGeometry(layout: .nchw, channels: 64, inHeight: 17, inWidth: 17, kernel: (16, 16), strides: (1, 1), same: false)
        XCTAssertTrue(makeConvolution2D(geometry: conv1, filters: 64) is FFTConv2DKernel)
        XCTAssertTrue(makeConvolution2D(geometry: conv2, filters: 128) is QuadWinogradConv2DKernel)
        // A small output leaves the FFT nothing to share: Winograd.
        let smallOutput = WindowGeometry(layout: .nhwc, channels: 1, inHeight: 19, inWidth: 19, kernel: (16, 16), strides: (1, 1), same: false)
        XCTAssertTrue(makeConvolution2D(geometry: smallOutput, filters: 64) is WinogradConv2DKernel)
        // Channels-last 3x3 and 1x1 layers go to oneDNN's compiled kernels where this CPU has them
        // (im2col otherwise), except stride-1 3x3 layers on maps smaller than 16 x 16 with whole
        // lanes of channels: F(2 x 2, 3 x 3), 4/9 of the direct products.
        let compiled = OneDNNConv2DKernel.compiledImplementation(
            WindowGeometry(layout: .nhwc, channels: 16, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true),
            filters: 16) != nil
        func expectCompiledOr(_ fallback: Any.Type, _ g: WindowGeometry, filters: Int, _ what: String) {
            let conv = makeConvolution2D(geometry: g, filters: filters)
            if compiled {
                XCTAssertTrue((conv as? OneDNNConv2DKernel)?.algorithm == .direct, what)
            } else {
                XCTAssertTrue(type(of: conv) == fallback, what)
            }
        }
        for (channels, size) in [(16, 32), (32, 16)] {
            let resnet = WindowGeometry(layout: .nhwc, channels: channels, inHeight: size, inWidth: size, kernel: (3, 3), strides: (1, 1), same: true)
            expectCompiledOr(Winograd3x3Conv2DKernel.self, resnet, filters: channels, "\(channels) channels on \(size) x \(size)")
        }
        // On 8 x 8: oneDNN's Winograd F(4, 3) where this CPU has it (AVX-512), else F(2, 3).
        let resnet8x8 = WindowGeometry(layout: .nhwc, channels: 64, inHeight: 8, inWidth: 8, kernel: (3, 3), strides: (1, 1), same: true)
        if OneDNNConv2DKernel.compiledImplementation(resnet8x8, filters: 64, algorithm: .winograd) != nil {
            let conv = makeConvolution2D(geometry: resnet8x8, filters: 64)
            XCTAssertTrue((conv as? OneDNNConv2DKernel)?.algorithm == .winograd)
        } else {
            XCTAssertTrue(makeConvolution2D(geometry: resnet8x8, filters: 64) is Winograd3x3Conv2DKernel)
        }
        // Under channels first the 3x3 layers keep F(2, 3) (oneDNN would reorder every image).
        let resnetFirst = WindowGeometry(layout: .nchw, channels: 16, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)
        XCTAssertTrue(makeConvolution2D(geometry: resnetFirst, filters: 16) is Winograd3x3Conv2DKernel)
        // 3x3 on eight channels (F(2, 3) pads them to sixteen lanes: more products than direct),
        // on an RGB input, strided and 1x1 convolutions: oneDNN, or im2col.
        let small = WindowGeometry(layout: .nhwc, channels: 8, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)
        let rgb = WindowGeometry(layout: .nhwc, channels: 3, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)
        let stridedSmall = WindowGeometry(layout: .nhwc, channels: 16, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (2, 2), same: true)
        let pointwise = WindowGeometry(layout: .nhwc, channels: 16, inHeight: 32, inWidth: 32, kernel: (1, 1), strides: (1, 1), same: true)
        expectCompiledOr(Conv2DKernel.self, small, filters: 8, "3x3 on 8 channels")
        expectCompiledOr(Conv2DKernel.self, rgb, filters: 16, "RGB")
        expectCompiledOr(Conv2DKernel.self, stridedSmall, filters: 32, "strided")
        expectCompiledOr(Conv2DKernel.self, pointwise, filters: 32, "1x1")
        // Large kernels keep the transforms or im2col.
        let strided = WindowGeometry(layout: .nhwc, channels: 8, inHeight: 32, inWidth: 32, kernel: (8, 8), strides: (2, 2), same: true)
        XCTAssertTrue(makeConvolution2D(geometry: strided, filters: 8) is Conv2DKernel)
    }
}
