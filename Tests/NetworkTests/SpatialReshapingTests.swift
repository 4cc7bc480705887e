import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

/// Pooling, global pooling, ZeroPadding2D, Cropping2D, UpSampling2D, Permute, SpatialDropout2D
/// and Dropout's noise_shape: forward against Double references, gradients by finite differences.
final class SpatialReshapingTests: XCTestCase {
    func testAveragePooling2DSameAveragesValidInputsOnly() throws {
        for cf in [true, false] { for same in [false, true] { for s in [1, 2] {
            let spec = PoolingSpec(average: true, poolSize: [3, 2], strides: [s, s], padding: same ? .same : .valid,
                                   dataFormat: cf ? .channelsFirst : .channelsLast)
            let (c, h, w) = (2, 7, 6)
            let shape = cf ? [c, h, w] : [h, w, c]
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w)
            checkLayer(try PoolingLayer(name: "avg", spec: spec, inputShape: shape), inputShape: shape) { x, _ in
                refAvgPool(x, batch: 2, img: img, ph: 3, pw: 2, strides: (s, s), same: same).y
            }
        } } }
        // The corner of a 'same' 3x3 window over a constant image is that constant, not 4/9 of it.
        let layer = try PoolingLayer(name: "avg", spec: PoolingSpec(average: true, poolSize: [3, 3], strides: [1, 1], padding: .same), inputShape: [4, 4, 1])
        var rng = SeededGenerator(seed: 1)
        layer.forward(Tensor(repeating: 2, shape: [1, 4, 4, 1]), training: false, rng: &rng)
        XCTAssertEqual(layer.output.data, [Float](repeating: 2, count: 16))
    }

    func testOneDimensionalPooling() throws {
        for cf in [true, false] { for average in [true, false] { for same in [false, true] {
            let spec = PoolingSpec(average: average, poolSize: [3], strides: [2], padding: same ? .same : .valid,
                                   dataFormat: cf ? .channelsFirst : .channelsLast)
            let (c, steps) = (3, 8)
            let shape = cf ? [c, steps] : [steps, c]
            let layer = try PoolingLayer(name: "p", spec: spec, inputShape: shape)
            let img = RefImage(channelsFirst: cf, c: c, h: 1, w: steps)
            checkLayer(layer, inputShape: shape) { x, _ in
                average ? refAvgPool(x, batch: 2, img: img, ph: 1, pw: 3, strides: (1, 2), same: same).y
                        : refMaxPool(x, batch: 2, img: img, ph: 1, pw: 3, strides: (1, 2), same: same).y
            }
        } } }
    }

    func testGlobalPoolingWithKeepdims() throws {
        for cf in [true, false] { for average in [true, false] { for rank in [1, 2] { for keep in [false, true] {
            let spec = GlobalPoolingSpec(average: average, rank: rank, dataFormat: cf ? .channelsFirst : .channelsLast, keepdims: keep)
            let c = 3
            let shape = rank == 1 ? (cf ? [c, 5] : [5, c]) : (cf ? [c, 4, 5] : [4, 5, c])
            let layer = try GlobalPoolingLayer(name: "g", spec: spec, inputShape: shape)
            let ones = [Int](repeating: 1, count: rank)
            XCTAssertEqual(layer.outputShape, keep ? (cf ? [c] + ones : ones + [c]) : [c])
            let spatial = shape.reduce(1, *) / c
            checkLayer(layer, inputShape: shape) { x, _ in
                (0..<2).flatMap { b in (0..<c).map { ch in
                    let values = (0..<spatial).map { p in x[b * c * spatial + (cf ? ch * spatial + p : p * c + ch)] }
                    return average ? values.reduce(0, +) / Double(spatial) : values.max()!
                } }
            }
        } } } }
    }

    /// TensorFlow's reduce_max gradient shares dy between tied maxima.
    func testGlobalMaxPoolingSplitsTheGradientBetweenTies() throws {
        let layer = try GlobalPoolingLayer(name: "g", spec: GlobalPoolingSpec(average: false, rank: 1), inputShape: [4, 1])
        var rng = SeededGenerator(seed: 1)
        let x = Tensor(shape: [1, 4, 1], data: [1, 3, 3, 2])
        layer.forward(x, training: true, rng: &rng)
        let dx = layer.backward(input: x, gradOutput: Tensor(shape: [1, 1], data: [1]), skipActivation: false, needInputGradient: true)!
        XCTAssertEqual(dx.data, [0, 0.5, 0.5, 0])
    }

    func testZeroPaddingAndCropping() throws {
        for cf in [true, false] { for pad in [true, false] {
            let edges = [1, 0, 2, 1]
            let (c, h, w) = (2, 5, 6)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try EdgeLayer(name: "e", edges: edges, pad: pad, dataFormat: cf ? .channelsFirst : .channelsLast, inputShape: shape)
            let (oh, ow) = pad ? (h + 1, w + 3) : (h - 1, w - 3)
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w), out = RefImage(channelsFirst: cf, c: c, h: oh, w: ow)
            XCTAssertEqual(layer.outputShape, cf ? [c, oh, ow] : [oh, ow, c])
            checkLayer(layer, inputShape: shape) { x, _ in
                var y = [Double](repeating: 0, count: 2 * out.count)
                for b in 0..<2 { for ch in 0..<c { for i in 0..<oh { for j in 0..<ow {
                    let (si, sj) = pad ? (i - 1, j - 2) : (i + 1, j + 2)
                    if si >= 0, si < h, sj >= 0, sj < w { y[b * out.count + out.index(ch, i, j)] = x[b * img.count + img.index(ch, si, sj)] }
                } } } }
                return y
            }
        } }
        XCTAssertThrowsError(try EdgeLayer(name: "crop", edges: [3, 3, 0, 0], pad: false, dataFormat: .channelsLast, inputShape: [6, 6, 1])) {
            XCTAssertTrue("\($0)".contains("crop"), "\($0)")
        }
    }

    func testUpSamplingNearestAndBilinear() throws {
        for cf in [true, false] { for bilinear in [false, true] {
            let (c, h, w) = (2, 3, 4)
            let shape = cf ? [c, h, w] : [h, w, c]
            let layer = try UpSampling2DLayer(name: "up", size: [2, 3], dataFormat: cf ? .channelsFirst : .channelsLast,
                                              bilinear: bilinear, inputShape: shape)
            let img = RefImage(channelsFirst: cf, c: c, h: h, w: w), out = RefImage(channelsFirst: cf, c: c, h: 6, w: 12)
            let ys = refBilinearAxis(h, 6), xs = refBilinearAxis(w, 12)
            checkLayer(layer, inputShape: shape) { x, _ in
                var y = [Double](repeating: 0, count: 2 * out.count)
                for b in 0..<2 { for ch in 0..<c { for i in 0..<6 { for j in 0..<12 {
                    func v(_ a: Int, _ bb: Int) -> Double { x[b * img.count + img.index(ch, a, bb)] }
                    let value: Double
                    if bilinear {
                        let (y0, y1, ly) = ys[i], (x0, x1, lx) = xs[j]
                        let top = v(y0, x0) + (v(y0, x1) - v(y0, x0)) * lx, bottom = v(y1, x0) + (v(y1, x1) - v(y1, x0)) * lx
                        value = top + (bottom - top) * ly
                    } else {
                        value = v(i / 2, j / 3)
                    }
                    y[b * out.count + out.index(ch, i, j)] = value
                } } } }
                return y
            }
        } }
    }

    func testPermute() throws {
        let layer = try PermuteLayer(name: "p", dims: [3, 1, 2], inputShape: [2, 3, 4])
        XCTAssertEqual(layer.outputShape, [4, 2, 3])
        checkLayer(layer, inputShape: [2, 3, 4]) { x, _ in
            var y: [Double] = []
            for b in 0..<2 { for k in 0..<4 { for i in 0..<2 { for j in 0..<3 { y.append(x[b * 24 + (i * 3 + j) * 4 + k]) } } } }
            return y
        }
        XCTAssertThrowsError(try PermuteLayer(name: "p", dims: [1, 1], inputShape: [2, 3]))
    }

    /// One draw per element of the noise shape, the same value over the axes where it is 1.
    func testNoiseShapesBroadcastTheirMask() throws {
        let spatial = try makeSpatialLayer(.spatialDropout2D(rate: 0.5, dataFormat: .channelsLast),
                                           spec: LayerSpec(name: "sd", className: "SpatialDropout2D", kind: .unsupported, inbound: [], config: .object([])),
                                           inputShape: [3, 4, 6], store: ParameterStore()) as! DropoutLayer
        let channelsFirst = try makeSpatialLayer(.spatialDropout2D(rate: 0.5, dataFormat: .channelsFirst),
                                                 spec: LayerSpec(name: "sd", className: "SpatialDropout2D", kind: .unsupported, inbound: [], config: .object([])),
                                                 inputShape: [6, 3, 4], store: ParameterStore()) as! DropoutLayer
        let steps = try DropoutLayer(name: "d", rate: 0.5, config: .object([("noise_shape", .array([.null, .int(1), .int(5)]))]), inputShape: [4, 5])
        var rng = SeededGenerator(seed: 9)
        for (layer, shape, channelOf) in [(spatial, [3, 4, 6], { (i: Int) in i % 6 }), (channelsFirst, [6, 3, 4], { (i: Int) in i / 12 }),
                                          (steps, [4, 5], { (i: Int) in i % 5 })] {
            let n = shape.reduce(1, *), batch = 8
            layer.forward(Tensor(repeating: 1, shape: [batch] + shape), training: true, rng: &rng)
            let mask = layer.lastMask!.data
            XCTAssertTrue(mask.allSatisfy { $0 == 0 || $0 == 2 })
            var perChannel: [Float] = []
            for b in 0..<batch {
                for i in 0..<n {
                    let key = b * 100 + channelOf(i)
                    if perChannel.count <= key { perChannel += [Float](repeating: -1, count: key + 1 - perChannel.count) }
                    if perChannel[key] < 0 { perChannel[key] = mask[b * n + i] }
                    XCTAssertEqual(mask[b * n + i], perChannel[key], "one value per sample and channel")
                }
            }
            XCTAssertTrue(mask.contains(0) && mask.contains(2))
        }
        // The gradient goes through the same mask.
        checkLayer(steps, inputShape: [4, 5], training: false) { x, _ in x }
        XCTAssertThrowsError(try DropoutLayer(name: "d", rate: 0.5, config: .object([("noise_shape", .array([.null, .int(2), .int(5)]))]), inputShape: [4, 5]))
    }
}
