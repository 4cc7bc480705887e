import KerasFile
import Kernels

/// Keras's Dropout, inverted: in training each value is kept with probability 1 - rate and the
/// kept ones are scaled by 1 / (1 - rate); outside training it passes values through. The mask
/// is drawn from the network's `SeededGenerator` (one uniform float per value, kept when
/// u >= rate, as TensorFlow's `dropout` compares), so a run is reproducible and resumable.
/// With a `noise_shape` (Keras's, batch first, nil for the input's own size; SpatialDropout2D's
/// is (batch, 1, 1, channels) or (batch, channels, 1, 1)) one value is drawn per element of that
/// shape, in row-major order, and broadcast over the axes where it is 1.
final class DropoutLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let rate: Float
    /// Per-sample noise sizes (1 or the input's size per axis) and whether the batch shares one mask; nil: one draw per value.
    private let noise: (shape: [Int], sharedAcrossBatch: Bool)?
    var output = Tensor(zeros: [0])
    private var mask = Tensor(zeros: [0])
    private var masked = false
    private var gradInput = Tensor(zeros: [0])

    init(name: String, rate: Double, config: JSONValue, inputShape: [Int], noiseShape given: [Int?]? = nil) throws {
        self.name = name
        guard rate >= 0, rate < 1 else {
            throw NetworkError(layer: name, "dropout rate must be in [0, 1), got \(rate)")
        }
        let noiseShape = given ?? dropoutNoiseShape(config["noise_shape"])
        if config["noise_shape"].map({ !$0.isNull }) == true, noiseShape == nil {
            throw NetworkError(layer: name, "noise_shape \(config["noise_shape"]!.serialized()) is not a list of sizes")
        }
        if let ns = noiseShape {
            guard ns.count == inputShape.count + 1, ns[0] == nil || ns[0] == 1 else {
                throw NetworkError(layer: name, "noise_shape \(ns.map { $0.map(String.init) ?? "None" }) does not fit the input (batch, \(inputShape.map(String.init).joined(separator: ", ")))")
            }
            let sizes = zip(ns.dropFirst(), inputShape).map { $0 ?? $1 }
            guard zip(sizes, inputShape).allSatisfy({ $0 == 1 || $0 == $1 }) else {
                throw NetworkError(layer: name, "noise_shape \(describeShape(sizes)) does not broadcast to the input \(describeShape(inputShape))")
            }
            noise = (sizes, ns[0] == 1)
        } else {
            noise = nil
        }
        self.rate = Float(rate)
        self.outputShape = inputShape
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        masked = training && rate > 0
        guard masked else {
            copyValues(input, into: &output, shape: input.shape)
            return
        }
        mask.ensureShape(input.shape)
        output.ensureShape(input.shape)
        let scale = 1 / (1 - rate), rate = self.rate, n = input.count
        if let noise {
            drawBroadcastMask(noise.shape, shared: noise.sharedAcrossBatch, batch: input.samples, scale: scale, rng: &rng)
        } else {
            mask.withMutablePointer { m in
                for i in 0..<n { m[i] = rng.nextUnitFloat() >= rate ? scale : 0 }
            }
        }
        input.withPointer { x in mask.withPointer { m in output.withMutablePointer { y in
            for i in 0..<n { y[i] = x[i] * m[i] }
        } } }
    }

    /// Draws the noise-shaped values (for the whole batch, or once when the batch shares them)
    /// and writes each to every element it covers.
    private func drawBroadcastMask(_ sizes: [Int], shared: Bool, batch: Int, scale: Float, rng: inout SeededGenerator) {
        let rank = outputShape.count, perSample = outputShape.reduce(1, *), draws = sizes.reduce(1, *)
        var values = [Float](repeating: 0, count: (shared ? 1 : batch) * draws)
        for i in values.indices { values[i] = rng.nextUnitFloat() >= rate ? scale : 0 }
        // For each element of a sample, the noise element it reads.
        var noiseStrides = [Int](repeating: 0, count: rank)
        var step = 1
        for k in stride(from: rank - 1, through: 0, by: -1) {
            noiseStrides[k] = sizes[k] == 1 ? 0 : step
            step *= sizes[k]
        }
        var position = [Int](repeating: 0, count: rank)
        var source = [Int](repeating: 0, count: perSample)
        for e in 0..<perSample {
            source[e] = zip(position, noiseStrides).reduce(0) { $0 + $1.0 * $1.1 }
            var k = rank - 1
            while k >= 0 {
                position[k] += 1
                if position[k] < outputShape[k] { break }
                position[k] = 0
                k -= 1
            }
        }
        mask.withMutablePointer { m in
            for b in 0..<batch {
                let base = shared ? 0 : b * draws
                for e in 0..<perSample { m[b * perSample + e] = values[base + source[e]] }
            }
        }
    }

    /// Test hook: the mask of the last training forward (scale or 0 per value).
    var lastMask: Tensor? { masked ? mask : nil }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        guard masked else {
            copyValues(gradOutput, into: &gradInput, shape: input.shape)
            return gradInput
        }
        gradInput.ensureShape(input.shape)
        let n = input.count
        gradOutput.withPointer { dy in mask.withPointer { m in gradInput.withMutablePointer { dx in
            for i in 0..<n { dx[i] = dy[i] * m[i] }
        } } }
        return gradInput
    }
}
