import Foundation
import KerasFile
import Kernels

/// Keras's BatchNormalization over one axis, with each Keras's own arithmetic:
///
/// - **Statistics**: the batch mean and the biased variance per channel (sums in Double, then
///   float32), used to normalise in training.
/// - **Output**: tf.keras's fused kernel and Keras 2.2's fused path (4-D input, channels last on
///   CPU) compute `(x - mean) * (rsqrt(var + eps) * gamma) + beta`; `tf.nn.batch_normalization`
///   (tf.keras unfused, Keras 3, Keras 2.2 otherwise) `x * inv + (beta - mean * inv)`.
/// - **Moving statistics** (training, trainable layer only):
///   - tf.keras fused (4-D/5-D input, axis 1 or last, `fused` not false, not `synchronized`):
///     TensorFlow's FusedBatchNorm with `exponential_avg_factor = 1 - momentum`:
///     `(1 - f) * moving + (f * N / (N - 1)) * var` (the unbiased variance) and
///     `(1 - f) * moving_mean + f * mean`.
///   - tf.keras unfused: `moving -= (moving - value) * (1 - momentum)`, biased variance.
///   - Keras 3: `moving * momentum + value * (1 - momentum)`, biased variance.
///   - Keras 2.2: the variance times `N / (N - (1 + eps))` (after the fused kernel's own
///     `N / (N - 1)` on its path), then TensorFlow 1's zero-debiased moving average
///     (`assign_moving_average(zero_debias=True)`): a hidden biased average and step count,
///     `moving = biased / (1 - momentum^step)`. The hidden values are not in Keras's file; they
///     start at zero when a model is loaded, as in Keras.
/// - **Frozen** (`trainable: false`): tf.keras and Keras 3 run the layer in inference mode
///   (moving statistics); Keras 2.2 still normalises with the batch's statistics but updates
///   nothing.
final class BatchNormalizationLayer: NetworkLayer, ReluFusing {
    let name: String
    let spec: BatchNormalizationSpec
    let outputShape: [Int]
    let gamma: Parameter?
    let beta: Parameter?
    let movingMean: Parameter
    let movingVariance: Parameter
    /// The input as [outer, channels, inner] (outer includes the batch).
    let channels: Int
    private let inner: Int
    private let before: Int
    private let layerTrainable: Bool
    private let trainCentered: Bool
    private let inferenceCentered: Bool
    /// tf.keras's fused kernel updates the moving statistics (unbiased variance, avg factor).
    private let fusedUpdate: Bool
    /// Keras 2.2's fused training path hands back the variance with Bessel's correction.
    private let keras2Bessel: Bool

    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])
    // Per channel, from the last forward.
    private var mean: [Float]
    private var rstd: [Float]
    private var usedBatchStatistics = false
    private var sums: [Double]
    private var sums2: [Double]
    /// The per-channel Double sums of the statistics and the backward, over the cores.
    private let channelSums: ChannelSums
    /// Set by `Graph.fuseReLUs` when this layer's only reader is a plain ReLU:
    /// the forward writes relu(y) (the ReLU node passes it through) and the backward takes the
    /// ReLU's gradient mask from y recomputed with the forward's own float operations, saving a
    /// write and a read of y forward and the ReLU gradient's pass backward (channels last only).
    var fusedRelu = false {
        willSet { precondition(!newValue || inner == 1, "a ReLU is fused only into channels-last BatchNormalization") }
    }
    /// The last forward's y = (x - center) * scale + shift per channel (center: the mean, in the
    /// centered form only): what a fused ReLU's backward recomputes.
    private var affineScale: [Float]
    private var affineShift: [Float]
    private var affineCentered = false
    /// Keras 2.2's hidden zero-debiasing state: the biased averages and the step count.
    private(set) var keras2Biased: (mean: [Float], variance: [Float], step: Float)

    /// Channels last (normalised over the last axis) only: the fused passes are `BatchNormRows`.
    var canFuseRelu: Bool { inner == 1 }

    var parameters: [Parameter] { [gamma, beta].compactMap { $0 } + [movingMean, movingVariance] }

    init(name: String, spec: BatchNormalizationSpec, inputShape: [Int], trainable: Bool, store: ParameterStore) throws {
        self.name = name
        self.spec = spec
        self.outputShape = inputShape
        let rank = inputShape.count + 1
        let axis = spec.axis < 0 ? spec.axis + rank : spec.axis
        guard axis >= 1, axis < rank else {
            throw NetworkError(layer: name, "axis \(spec.axis) is outside the input (batch, \(inputShape.map(String.init).joined(separator: ", ")))")
        }
        let c = axis - 1
        channels = inputShape[c]
        before = inputShape[..<c].reduce(1, *)
        inner = inputShape[(c + 1)...].reduce(1, *)
        layerTrainable = trainable
        let fusable = (rank == 4 || rank == 5) && (axis == 1 || axis == rank - 1)
        switch spec.generation {
        case .tfKeras:
            if spec.fused == true && !fusable {
                throw NetworkError(layer: name, "fused = true needs a 4-D or 5-D input normalised on axis 1 or the last (as Keras)")
            }
            let fused = spec.fused != false && fusable
            (trainCentered, inferenceCentered, fusedUpdate, keras2Bessel) = (fused, fused, fused, false)
        case .keras3:
            (trainCentered, inferenceCentered, fusedUpdate, keras2Bessel) = (false, false, false, false)
        case .keras2:
            // normalize_batch_in_training fuses reductions [0, 1, 2] (channels last); channels
            // first needs NCHW support, which a CPU lacks. batch_normalization likewise.
            let fusedTrain = rank == 4 && axis == 3
            let fusedInference = rank == 4 && (spec.axis == 3 || spec.axis == -1)
            (trainCentered, inferenceCentered, fusedUpdate, keras2Bessel) = (fusedTrain, fusedInference, false, fusedTrain)
        }
        let shape = [channels]
        gamma = spec.scale ? try store.parameter(layer: name, name: "gamma", shape: shape) : nil
        beta = spec.center ? try store.parameter(layer: name, name: "beta", shape: shape) : nil
        movingMean = try store.parameter(layer: name, name: "moving_mean", shape: shape, isState: true)
        movingVariance = try store.parameter(layer: name, name: "moving_variance", shape: shape, isState: true)
        mean = Array(repeating: 0, count: channels)
        rstd = Array(repeating: 0, count: channels)
        sums = Array(repeating: 0, count: channels)
        sums2 = Array(repeating: 0, count: channels)
        channelSums = ChannelSums(channels: channels, inner: inner)
        affineScale = Array(repeating: 0, count: channels)
        affineShift = Array(repeating: 0, count: channels)
        keras2Biased = (Array(repeating: 0, count: channels), Array(repeating: 0, count: channels), 0)
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let useBatch = training && (layerTrainable || spec.generation == .keras2)
        let update = training && layerTrainable
        usedBatchStatistics = useBatch
        let eps = Float(spec.epsilon)
        let outer = input.samples * before, C = channels, inner = self.inner
        var variance = [Float](repeating: 0, count: C)
        if useBatch {
            input.withPointer { x in batchStatistics(x, outer: outer, variance: &variance) }
        } else {
            mean = movingMean.value.data
            variance = movingVariance.value.data
        }
        for c in 0..<C { rstd[c] = 1 / (variance[c] + eps).squareRoot() }
        // Per channel: y = x * a + b (affine form) or (x - mean) * a + b (centered form).
        let centered = useBatch ? trainCentered : inferenceCentered
        var a = [Float](repeating: 0, count: C), b = [Float](repeating: 0, count: C)
        let g = gamma?.value.data, bt = beta?.value.data
        for c in 0..<C {
            a[c] = g.map { rstd[c] * $0[c] } ?? rstd[c]
            let offset = bt?[c] ?? 0
            b[c] = centered ? offset : offset - mean[c] * a[c]
        }
        (affineScale, affineShift, affineCentered) = (a, b, centered)
        let m = mean, relu = fusedRelu
        input.withPointer { x in output.withMutablePointer { y in
            let yAddress = Int(bitPattern: y)
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in m.withUnsafeBufferPointer { m in
                let rowsPerPiece = max(1, (1 << 15) / max(C * inner, 1))
                let pieces = (outer + rowsPerPiece - 1) / rowsPerPiece
                parallelFor(pieces, minimumWorkPerItem: rowsPerPiece * C * inner) { p in
                    let y = UnsafeMutablePointer<Float>(bitPattern: yAddress)!
                    let rows = (p * rowsPerPiece)..<min(outer, (p + 1) * rowsPerPiece)
                    if inner == 1 {
                        let form = BatchNormAffine(scale: a.baseAddress!, shift: b.baseAddress!, center: centered ? m.baseAddress! : nil)
                        return BatchNormRows.normalize(x, y, rows: rows, channels: C, form: form, relu: relu)
                    }
                    for o in rows {
                        let base = o * C * inner
                        for c in 0..<C {
                            let xr = x + base + c * inner, yr = y + base + c * inner
                            let ac = a[c], bc = b[c], mc = m[c]
                            if centered {
                                for i in 0..<inner { yr[i] = (xr[i] - mc) * ac + bc }
                            } else {
                                for i in 0..<inner { yr[i] = xr[i] * ac + bc }
                            }
                        }
                    }
                }
            } } }
        } }
        if update { updateMovingStatistics(variance: variance, count: outer * inner) }
    }

    /// The batch mean (into `mean`) and biased variance per channel: Double sums of x, then of
    /// (x - mean)^2 with the float32 mean, over the cores (`ChannelSums`).
    private func batchStatistics(_ x: UnsafePointer<Float>, outer: Int, variance: inout [Float]) {
        let C = channels
        let n = Double(outer * inner)
        sums.withUnsafeMutableBufferPointer { channelSums.sum(x, outer: outer, into: $0.baseAddress!) }
        for c in 0..<C { mean[c] = Float(sums[c] / n) }
        let md = mean.map(Double.init)
        md.withUnsafeBufferPointer { md in sums2.withUnsafeMutableBufferPointer { s in
            channelSums.centeredSquares(x, mean: md.baseAddress!, outer: outer, into: s.baseAddress!)
        } }
        for c in 0..<C { variance[c] = Float(sums2[c] / n) }
    }

    private func updateMovingStatistics(variance: [Float], count: Int) {
        var mm = movingMean.value.data, mv = movingVariance.value.data
        let C = channels
        switch spec.generation {
        case .tfKeras where fusedUpdate:
            // FusedBatchNorm (tensorflow/core/kernels/fused_batch_norm_op.cc), exponential_avg_factor.
            let f = Float(1.0 - spec.momentum), keep = 1 - f
            let adjust = Float(count) / Float(max(count - 1, 1))
            for c in 0..<C {
                mm[c] = keep * mm[c] + f * mean[c]
                mv[c] = keep * mv[c] + (f * adjust) * variance[c]
            }
        case .tfKeras:
            // _assign_moving_average: variable.assign_sub((variable - value) * decay).
            let decay = Float(1.0 - spec.momentum)
            for c in 0..<C {
                mm[c] -= (mm[c] - mean[c]) * decay
                mv[c] -= (mv[c] - variance[c]) * decay
            }
        case .keras3:
            let m = Float(spec.momentum), d = Float(1.0 - spec.momentum)
            for c in 0..<C {
                mm[c] = mm[c] * m + mean[c] * d
                mv[c] = mv[c] * m + variance[c] * d
            }
        case .keras2:
            let n = Float(count)
            let decay = Float(1.0 - spec.momentum)
            var (bm, bv, step) = keras2Biased
            step += 1
            let debias = 1 - powf(1 - decay, step)
            for c in 0..<C {
                var v = variance[c]
                if keras2Bessel { v *= n / Float(max(count - 1, 1)) }
                v *= n / (n - Float(1.0 + spec.epsilon))
                bm[c] -= (bm[c] - mean[c]) * decay
                bv[c] -= (bv[c] - v) * decay
                mm[c] -= mm[c] - bm[c] / debias
                mv[c] -= mv[c] - bv[c] / debias
            }
            keras2Biased = (bm, bv, step)
        }
        movingMean.value = Tensor(shape: [C], data: mm)
        movingVariance.value = Tensor(shape: [C], data: mv)
    }

    /// Sets Keras 2.2's hidden zero-debiasing state (a resumed run's).
    func setKeras2Biased(mean: [Float], variance: [Float], step: Float) {
        precondition(mean.count == channels && variance.count == channels)
        keras2Biased = (mean, variance, step)
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let C = channels, inner = self.inner
        let outer = input.samples * before
        let n = Double(outer * inner)
        // Per channel: sum(dy) and sum(dy * (x - mean)), over the cores.
        let md = mean.map(Double.init)
        let m = mean, relu = fusedRelu
        input.withPointer { x in gradOutput.withPointer { dy in
            sums.withUnsafeMutableBufferPointer { s in sums2.withUnsafeMutableBufferPointer { s2 in md.withUnsafeBufferPointer { md in
                if relu {
                    withAffineForm(mean: m) { mask in
                        channelSums.maskedGradientSums(dy, x, mean: md.baseAddress!, outer: outer, mask: mask, into: s.baseAddress!, s2.baseAddress!)
                    }
                } else {
                    channelSums.gradientSums(dy, x, mean: md.baseAddress!, outer: outer, into: s.baseAddress!, s2.baseAddress!)
                }
            } } }
        } }
        // dgamma = sum(dy * xhat), dbeta = sum(dy).
        if let gamma {
            var gg = gamma.gradient.data
            for c in 0..<C { gg[c] += Float(sums2[c] * Double(rstd[c])) }
            gamma.gradient = Tensor(shape: [C], data: gg)
        }
        if let beta {
            var gb = beta.gradient.data
            for c in 0..<C { gb[c] += Float(sums[c]) }
            beta.gradient = Tensor(shape: [C], data: gb)
        }
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        // Batch statistics: dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat));
        // moving statistics: dx = gamma rstd dy.
        var k = [Float](repeating: 0, count: C), u = [Float](repeating: 0, count: C), v = [Float](repeating: 0, count: C)
        let g = gamma?.value.data
        for c in 0..<C {
            let r = Double(rstd[c])
            k[c] = Float(Double(g?[c] ?? 1) * r)
            if usedBatchStatistics {
                u[c] = Float(sums[c] / n)
                v[c] = Float(sums2[c] / n * r * r)
            }
        }
        input.withPointer { x in gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            let dxAddress = Int(bitPattern: dx)
            k.withUnsafeBufferPointer { k in u.withUnsafeBufferPointer { u in v.withUnsafeBufferPointer { v in m.withUnsafeBufferPointer { m in self.withAffineForm(mean: self.mean) { mask in
                // Element by element: pieces of rows over the cores.
                let rowsPerPiece = max(1, (1 << 15) / max(C * inner, 1))
                let pieces = (outer + rowsPerPiece - 1) / rowsPerPiece
                parallelFor(pieces, minimumWorkPerItem: rowsPerPiece * C * inner) { p in
                    let dx = UnsafeMutablePointer<Float>(bitPattern: dxAddress)!
                    let rows = (p * rowsPerPiece)..<min(outer, (p + 1) * rowsPerPiece)
                    if inner == 1 {
                        return BatchNormRows.inputGradient(x, dy, dx, rows: rows, channels: C, k: k.baseAddress!, u: u.baseAddress!,
                                                           v: v.baseAddress!, mean: m.baseAddress!, mask: relu ? mask : nil)
                    }
                    for o in rows {
                        for c in 0..<C {
                            let off = (o * C + c) * inner
                            let xr = x + off, gr = dy + off, dr = dx + off
                            let kc = k[c], uc = u[c], vc = v[c], mc = m[c]
                            for i in 0..<inner { dr[i] = kc * (gr[i] - uc - (xr[i] - mc) * vc) }
                        }
                    }
                }
            } } } } }
        } } }
        return gradInput
    }

    /// The last forward's affine form (`mean`: that forward's), a fused ReLU's mask.
    private func withAffineForm<R>(mean: [Float], _ body: (BatchNormAffine) -> R) -> R {
        affineScale.withUnsafeBufferPointer { a in affineShift.withUnsafeBufferPointer { b in mean.withUnsafeBufferPointer { m in
            body(BatchNormAffine(scale: a.baseAddress!, shift: b.baseAddress!, center: affineCentered ? m.baseAddress! : nil))
        } } }
    }
}
