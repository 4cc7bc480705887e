import Foundation
import KerasFile
import Kernels

/// Keras's Rescaling: `x * scale + offset` in float32.
final class RescalingLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let scale: Float
    private let offset: Float
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, scale: Double, offset: Double, inputShape: [Int]) {
        self.name = name
        self.outputShape = inputShape
        self.scale = Float(scale)
        self.offset = Float(offset)
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let s = scale, o = offset, n = input.count
        input.withPointer { x in output.withMutablePointer { y in for i in 0..<n { y[i] = x[i] * s + o } } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let s = scale, n = input.count
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in for i in 0..<n { dx[i] = dy[i] * s } } }
        return gradInput
    }
}

/// Keras's Normalization: `(x - mean) / max(sqrt(variance), 1e-7)`, or with `invert`
/// `mean + x * max(sqrt(variance), 1e-7)` (tf_keras/src/layers/preprocessing/normalization.py,
/// keras/src/layers/preprocessing/normalization.py). Adapted values are the layer's weights
/// `mean`, `variance` and `count` (state, never trained); values given in the config are constants.
final class NormalizationLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let invert: Bool
    let meanParam: Parameter?
    let varianceParam: Parameter?
    let countParam: Parameter?
    private let constants: (mean: [Float], variance: [Float])?
    /// For each element of one sample, the index of its mean and variance.
    private let statIndex: [Int]
    private var std: [Float] = []
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    var parameters: [Parameter] { [meanParam, varianceParam, countParam].compactMap { $0 } }

    init(name: String, spec: NormalizationSpec, inputShape: [Int], store: ParameterStore) throws {
        self.name = name
        self.outputShape = inputShape
        self.invert = spec.invert
        let rank = inputShape.count + 1
        var kept: [Int] = []
        for a in spec.axes {
            let r = a < 0 ? a + rank : a
            guard r >= 1, r < rank else {
                throw NetworkError(layer: name, "axis \(a) is outside the input (batch, \(inputShape.map(String.init).joined(separator: ", ")))")
            }
            if !kept.contains(r - 1) { kept.append(r - 1) }
        }
        kept.sort()
        let statShape = kept.map { inputShape[$0] }
        let statCount = statShape.reduce(1, *)
        if let mean = spec.mean, let variance = spec.variance {
            func expand(_ v: [Double], _ key: String) throws -> [Float] {
                if v.count == 1 { return Array(repeating: Float(v[0]), count: statCount) }
                guard v.count == statCount else {
                    throw NetworkError(layer: name, "\(key) has \(v.count) values; the kept axes need 1 or \(statCount)")
                }
                return v.map { Float($0) }
            }
            constants = (try expand(mean, "mean"), try expand(variance, "variance"))
            (meanParam, varianceParam, countParam) = (nil, nil, nil)
        } else {
            constants = nil
            meanParam = try store.parameter(layer: name, name: "mean", shape: statShape, isState: true)
            varianceParam = try store.parameter(layer: name, name: "variance", shape: statShape, isState: true)
            countParam = try store.parameter(layer: name, name: "count", shape: [], isState: true)
        }
        // Row-major index into the statistics (the kept axes) for every element of a sample.
        statIndex = broadcastIndex(from: inputShape, to: inputShape.indices.map { kept.contains($0) ? inputShape[$0] : 1 })
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let mean = constants?.mean ?? meanParam!.value.data
        let variance = constants?.variance ?? varianceParam!.value.data
        // backend.epsilon() is 1e-7.
        std = variance.map { max($0.squareRoot(), 1e-7) }
        let per = statIndex.count, samples = input.samples, invert = self.invert
        input.withPointer { x in output.withMutablePointer { y in statIndex.withUnsafeBufferPointer { idx in
            std.withUnsafeBufferPointer { sd in mean.withUnsafeBufferPointer { m in
                for s in 0..<samples {
                    let xr = x + s * per, yr = y + s * per
                    if invert {
                        for e in 0..<per { yr[e] = m[idx[e]] + xr[e] * sd[idx[e]] }
                    } else {
                        for e in 0..<per { yr[e] = (xr[e] - m[idx[e]]) / sd[idx[e]] }
                    }
                }
            } }
        } } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let per = statIndex.count, samples = input.samples, invert = self.invert
        gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in statIndex.withUnsafeBufferPointer { idx in
            std.withUnsafeBufferPointer { sd in
                for s in 0..<samples {
                    let gr = dy + s * per, dr = dx + s * per
                    if invert {
                        for e in 0..<per { dr[e] = gr[e] * sd[idx[e]] }
                    } else {
                        for e in 0..<per { dr[e] = gr[e] / sd[idx[e]] }
                    }
                }
            }
        } } }
        return gradInput
    }
}
