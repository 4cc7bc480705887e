import KerasFile
import Kernels

/// Keras's AveragePooling2D, AveragePooling1D and MaxPooling1D with TensorFlow's semantics
/// (`AvgPoolKernel`, `MaxPoolKernel`); the 1-D layers pool a one-row image, as tf-keras's
/// Pooling1D does by expanding a dimension.
final class PoolingLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let average: AvgPoolKernel?
    private let max: MaxPoolKernel?
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, spec: PoolingSpec, inputShape: [Int]) throws {
        self.name = name
        let rank = spec.poolSize.count
        let className = (spec.average ? "AveragePooling" : "MaxPooling") + "\(rank)D"
        guard spec.strides.count == rank, (spec.poolSize + spec.strides).allSatisfy({ $0 > 0 }) else {
            throw NetworkError(layer: name, "pool_size and strides must be positive")
        }
        let (c, h, w) = rank == 1 ? try sequenceDimensions(inputShape, spec.dataFormat, layer: name, className: className)
                                  : try imageDimensions(inputShape, spec.dataFormat, layer: name, className: className)
        let pool = rank == 1 ? (1, spec.poolSize[0]) : (spec.poolSize[0], spec.poolSize[1])
        let strides = rank == 1 ? (1, spec.strides[0]) : (spec.strides[0], spec.strides[1])
        let g = WindowGeometry(layout: spec.dataFormat.layout, channels: c, inHeight: h, inWidth: w,
                               kernel: pool, strides: strides, same: spec.padding == .same)
        guard g.isValid else {
            throw NetworkError(layer: name, "pool size \(describeShape(spec.poolSize)) does not fit the input \(describeShape(inputShape)) with \(spec.padding.rawValue) padding")
        }
        outputShape = rank == 1 ? (spec.dataFormat == .channelsFirst ? [c, g.outWidth] : [g.outWidth, c])
                                : imageShape(c: c, h: g.outHeight, w: g.outWidth, spec.dataFormat)
        average = spec.average ? AvgPoolKernel(geometry: g) : nil
        max = spec.average ? nil : MaxPoolKernel(geometry: g)
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples
        output.ensureShape([batch] + outputShape)
        input.withPointer { x in output.withMutablePointer { y in
            if let average { average.forward(input: x, batch: batch, output: y) } else { max!.forward(input: x, batch: batch, output: y) }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let batch = input.samples
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            if let average { average.backward(gradOutput: dy, batch: batch, gradInput: dx) } else { max!.backward(gradOutput: dy, batch: batch, gradInput: dx) }
        } }
        return gradInput
    }
}

/// Keras's GlobalAveragePooling1D/2D and GlobalMaxPooling1D/2D: the mean or maximum over every
/// spatial position per channel, (channels) or with `keepdims` the input's rank with size-1
/// spatial axes. The mean is summed in Double and rounded once; the maximum's gradient is
/// TensorFlow's `reduce_max` gradient: shared equally between the positions equal to the maximum.
final class GlobalPoolingLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let average: Bool
    private let channelsFirst: Bool
    private let channels: Int
    private let spatial: Int
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, spec: GlobalPoolingSpec, inputShape: [Int]) throws {
        self.name = name
        guard inputShape.count == spec.rank + 1 else {
            throw NetworkError(layer: name, "Global\(spec.average ? "Average" : "Max")Pooling\(spec.rank)D needs a rank-\(spec.rank + 1) input per sample, got \(describeShape(inputShape))")
        }
        average = spec.average
        channelsFirst = spec.dataFormat == .channelsFirst
        channels = channelsFirst ? inputShape[0] : inputShape[spec.rank]
        spatial = inputShape.reduce(1, *) / max(1, channels)
        let ones = [Int](repeating: 1, count: spec.rank)
        outputShape = !spec.keepdims ? [channels] : channelsFirst ? [channels] + ones : ones + [channels]
    }

    @inline(__always)
    private func index(_ c: Int, _ p: Int) -> Int { channelsFirst ? c * spatial + p : p * channels + c }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let batch = input.samples, C = channels, S = spatial
        output.ensureShape([batch] + outputShape)
        input.withPointer { x in output.withMutablePointer { y in
            for b in 0..<batch {
                let xs = x + b * C * S
                for c in 0..<C {
                    if average {
                        var sum: Double = 0
                        for p in 0..<S { sum += Double(xs[index(c, p)]) }
                        y[b * C + c] = Float(sum / Double(S))
                    } else {
                        var best = xs[index(c, 0)]
                        for p in 1..<Swift.max(1, S) { best = Swift.max(best, xs[index(c, p)]) }
                        y[b * C + c] = best
                    }
                }
            }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let batch = input.samples, C = channels, S = spatial
        input.withPointer { x in gradOutput.withPointer { dy in output.withPointer { y in gradInput.withMutablePointer { dx in
            for b in 0..<batch {
                let xs = x + b * C * S, ds = dx + b * C * S
                for c in 0..<C {
                    let d = dy[b * C + c]
                    if average {
                        // TensorFlow's mean gradient: dy / count, broadcast.
                        let v = d / Float(S)
                        for p in 0..<S { ds[index(c, p)] = v }
                    } else {
                        let m = y[b * C + c]
                        var ties: Float = 0
                        for p in 0..<S where xs[index(c, p)] == m { ties += 1 }
                        let v = (1 / ties) * d   // _MinOrMaxGrad: indicators / count * grad
                        for p in 0..<S { ds[index(c, p)] = xs[index(c, p)] == m ? v : 0 }
                    }
                }
            }
        } } } }
        return gradInput
    }
}
