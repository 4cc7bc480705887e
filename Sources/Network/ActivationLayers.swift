import Foundation
import KerasFile
import Kernels

/// The layers of this family as `Graph.makeLayer` builds them (one call keeps its switch short).
func makeNormalizationFamilyLayer(_ spec: LayerSpec, inputShape shape: [Int], store: ParameterStore) throws -> NetworkLayer? {
    switch spec.kind {
    case .batchNormalization(let b):
        return try BatchNormalizationLayer(name: spec.name, spec: b, inputShape: shape, trainable: spec.training.trainable, store: store)
    case .activationLayer(let a):
        return try makeActivationLayer(name: spec.name, spec: a, inputShape: shape)
    case .prelu(let shared):
        return try PReLULayer(name: spec.name, sharedAxes: shared, inputShape: shape, store: store)
    case .rescaling(let scale, let offset):
        return RescalingLayer(name: spec.name, scale: scale, offset: offset, inputShape: shape)
    case .normalization(let n):
        return try NormalizationLayer(name: spec.name, spec: n, inputShape: shape, store: store)
    default:
        return nil
    }
}

/// ReLU, LeakyReLU, ELU and Softmax as Keras computes them (tf_keras/src/backend.py `relu`,
/// `elu`; keras/src/activations/activations.py `ReLU.static_call`, `elu`).
func makeActivationLayer(name: String, spec: ActivationLayerSpec, inputShape: [Int]) throws -> NetworkLayer {
    switch spec {
    case .relu(let slope, let maxValue, let threshold):
        // The same shortcuts as Keras: plain relu, relu6, leaky relu, else the general steps.
        let kernel: ActivationKernel
        if slope == 0 && threshold == 0 && maxValue == nil {
            kernel = .relu
        } else if slope == 0 && threshold == 0 && maxValue == 6 {
            kernel = .relu6
        } else if slope != 0 && threshold == 0 && maxValue == nil {
            kernel = .leakyRelu(slope: Float(slope))
        } else {
            kernel = .generalRelu(slope: Float(slope), maxValue: maxValue.map { Float($0) }, threshold: Float(threshold))
        }
        return ActivationLayer(name: name, kernel: kernel, final: kernel == .relu ? .relu : .linear, inputShape: inputShape)
    case .leakyRelu(let slope):
        return ActivationLayer(name: name, kernel: .leakyRelu(slope: Float(slope)), final: .linear, inputShape: inputShape)
    case .elu(let alpha):
        return ActivationLayer(name: name, kernel: .elu(alpha: Float(alpha)), final: alpha == 1 ? .elu : .linear, inputShape: inputShape)
    case .softmax(let axis):
        let rank = inputShape.count + 1
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 1, resolved < rank else {
            throw NetworkError(layer: name, "axis \(axis) is outside the input (batch, \(inputShape.map(String.init).joined(separator: ", ")))")
        }
        if resolved == rank - 1 {
            return ActivationLayer(name: name, function: .softmax, inputShape: inputShape)
        }
        return AxisSoftmaxLayer(name: name, axis: resolved - 1, inputShape: inputShape)
    }
}

/// Softmax over an axis other than the last: the input as [outer, n, inner], each (outer, inner)
/// line normalised alone, with the same float32 steps as the last-axis kernel.
final class AxisSoftmaxLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    private let n: Int
    private let inner: Int
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, axis: Int, inputShape: [Int]) {
        self.name = name
        self.outputShape = inputShape
        n = inputShape[axis]
        inner = inputShape[(axis + 1)...].reduce(1, *)
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let n = self.n, inner = self.inner, outer = input.count / (n * inner)
        input.withPointer { x in output.withMutablePointer { y in
            for o in 0..<outer {
                for i in 0..<inner {
                    let xr = x + o * n * inner + i, yr = y + o * n * inner + i
                    var m = -Float.infinity
                    for j in 0..<n { m = max(m, xr[j * inner]) }
                    var s: Float = 0
                    for j in 0..<n { let e = expf(xr[j * inner] - m); yr[j * inner] = e; s += e }
                    let inv = 1 / s
                    for j in 0..<n { yr[j * inner] *= inv }
                }
            }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(input.shape)
        let n = self.n, inner = self.inner, outer = input.count / (n * inner)
        output.withPointer { y in gradOutput.withPointer { dy in gradInput.withMutablePointer { dx in
            for o in 0..<outer {
                for i in 0..<inner {
                    let off = o * n * inner + i
                    var dot: Float = 0
                    for j in 0..<n { dot += dy[off + j * inner] * y[off + j * inner] }
                    for j in 0..<n { dx[off + j * inner] = y[off + j * inner] * (dy[off + j * inner] - dot) }
                }
            }
        } } }
        return gradInput
    }
}

/// Keras's PReLU: `relu(x) - alpha * relu(-x)` with a trainable `alpha` of the input's shape,
/// size 1 along `shared_axes` (tf_keras/src/layers/activation/prelu.py,
/// keras/src/layers/activations/prelu.py).
final class PReLULayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let alpha: Parameter
    /// For each element of one sample, its alpha's index.
    private let alphaIndex: [Int]
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    var parameters: [Parameter] { [alpha] }

    init(name: String, sharedAxes: [Int], inputShape: [Int], store: ParameterStore) throws {
        self.name = name
        self.outputShape = inputShape
        for a in sharedAxes where a < 1 || a > inputShape.count {
            throw NetworkError(layer: name, "shared axis \(a) is outside the input (batch, \(inputShape.map(String.init).joined(separator: ", ")))")
        }
        let shape = inputShape.enumerated().map { sharedAxes.contains($0.offset + 1) ? 1 : $0.element }
        alpha = try store.parameter(layer: name, name: "alpha", shape: shape)
        // Each element's index into the alpha tensor (shared axes contribute 0).
        alphaIndex = broadcastIndex(from: inputShape, to: shape)
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let per = alphaIndex.count, samples = input.samples
        input.withPointer { x in output.withMutablePointer { y in alpha.value.withPointer { a in alphaIndex.withUnsafeBufferPointer { idx in
            for s in 0..<samples {
                let xr = x + s * per, yr = y + s * per
                for e in 0..<per {
                    let v = xr[e]
                    yr[e] = max(v, 0) + -a[idx[e]] * max(-v, 0)
                }
            }
        } } } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let per = alphaIndex.count, samples = input.samples
        if needInputGradient { gradInput.ensureShape(input.shape) }
        var ga = [Double](repeating: 0, count: alpha.value.count)
        input.withPointer { x in gradOutput.withPointer { dy in alpha.value.withPointer { a in alphaIndex.withUnsafeBufferPointer { idx in
            for s in 0..<samples {
                let xr = x + s * per, gr = dy + s * per
                for e in 0..<per where xr[e] < 0 { ga[idx[e]] += Double(gr[e]) * Double(xr[e]) }
            }
            if needInputGradient {
                gradInput.withMutablePointer { dx in
                    for s in 0..<samples {
                        let xr = x + s * per, gr = dy + s * per, dr = dx + s * per
                        for e in 0..<per { dr[e] = xr[e] > 0 ? gr[e] : (xr[e] < 0 ? a[idx[e]] * gr[e] : 0) }
                    }
                }
            }
        } } } }
        // d/d alpha of -alpha * relu(-x) = -relu(-x) = x where x < 0.
        var g = alpha.gradient.data
        for i in g.indices { g[i] += Float(ga[i]) }
        alpha.gradient = Tensor(shape: alpha.shape, data: g)
        return needInputGradient ? gradInput : nil
    }
}
