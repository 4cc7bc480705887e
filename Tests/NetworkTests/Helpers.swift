import ReferenceMath
import XCTest
import KerasFile
@testable import Kernels
@testable import Network

func inputSpec(_ name: String, _ shape: [Int]) -> LayerSpec {
    LayerSpec(name: name, className: "InputLayer", kind: .input(batchShape: [nil] + shape), inbound: [], config: .object([]))
}

func layerSpec(_ name: String, _ kind: LayerKind, from: String?, config: JSONValue = .object([])) -> LayerSpec {
    let cls: String
    switch kind {
    case .input: cls = "InputLayer"
    case .activation: cls = "Activation"
    case .conv2D: cls = "Conv2D"
    case .maxPooling2D: cls = "MaxPooling2D"
    case .reshape: cls = "Reshape"
    case .flatten: cls = "Flatten"
    case .dense: cls = "Dense"
    case .dropout: cls = "Dropout"
    case .merge(let operation): cls = operation.rawValue
    case .concatenate: cls = "Concatenate"
    case .scalar(let operation, _, _): cls = operation.rawValue
    case .batchNormalization: cls = "BatchNormalization"
    case .activationLayer: cls = "ReLU"
    case .prelu: cls = "PReLU"
    case .rescaling: cls = "Rescaling"
    case .normalization: cls = "Normalization"
    case .spatial: cls = "Spatial"
    case .unsupported: cls = "Unsupported"
    }
    return LayerSpec(name: name, className: cls, kind: kind, inbound: from.map { [TensorRef(layer: $0)] } ?? [], config: config)
}

/// A functional model: an input of `shape`, then `layers` chained in order.
func functionalModel(input shape: [Int], _ layers: [(String, LayerKind)]) -> ModelDefinition {
    var specs = [inputSpec("input", shape)]
    for (name, kind) in layers { specs.append(layerSpec(name, kind, from: specs.last!.name)) }
    return ModelDefinition(className: "Functional", name: "model", layers: specs,
                           inputs: [TensorRef(layer: "input")], outputs: [TensorRef(layer: specs.last!.name)],
                           config: .object([]))
}

func fill(_ network: Network, seed: UInt64) throws {
    try network.setParameters(network.variables.enumerated().map { i, v in
        Tensor(shape: v.shape, data: randomValues(v.value.count, seed: seed + UInt64(i) * 7919).map { Float($0 * 0.8) })
    })
}

func doubles(_ t: Tensor) -> [Double] { t.data.map(Double.init) }

/// Checks one layer's forward against `ref` and its input and parameter gradients against
/// central finite differences of `sum(r * ref(x, params))` in Double.
func checkLayer(_ layer: NetworkLayer, inputShape: [Int], batch: Int = 2, training: Bool = true,
                tolerance: Double = 2e-4, _ ref: (_ x: [Double], _ params: [[Double]]) -> [Double],
                file: StaticString = #filePath, line: UInt = #line) {
    for (i, p) in layer.parameters.enumerated() {
        p.value = Tensor(shape: p.shape, data: randomValues(p.value.count, seed: 100 + UInt64(i)).map(Float.init))
        p.gradient = Tensor(zeros: p.shape)
    }
    let n = batch * inputShape.reduce(1, *)
    let x = randomValues(n, seed: 7)
    let xt = Tensor(shape: [batch] + inputShape, data: x.map(Float.init))
    var rng = SeededGenerator(seed: 1)
    layer.forward(xt, training: training, rng: &rng)
    XCTAssertEqual(layer.output.shape, [batch] + layer.outputShape, "output shape", file: file, line: line)
    let params = layer.parameters.map { doubles($0.value) }
    let y = ref(x, params)
    XCTAssertLessThan(relativeError(doubles(layer.output), y), 1e-5, "forward", file: file, line: line)
    let r = randomValues(y.count, seed: 11)
    guard let dx = layer.backward(input: xt, gradOutput: Tensor(shape: layer.output.shape, data: r.map(Float.init)),
                                  skipActivation: false, needInputGradient: true) else {
        XCTFail("no input gradient", file: file, line: line); return
    }
    XCTAssertEqual(dx.shape, xt.shape, file: file, line: line)
    let fdx = finiteDifferences({ dot(r, ref($0, params)) }, at: x)
    XCTAssertLessThan(relativeError(doubles(dx), fdx), tolerance, "input gradient", file: file, line: line)
    for (i, p) in layer.parameters.enumerated() {
        let fd = finiteDifferences({ var q = params; q[i] = $0; return dot(r, ref(x, q)) }, at: params[i])
        XCTAssertLessThan(relativeError(doubles(p.gradient), fd), tolerance, "gradient of \(p.weightName)", file: file, line: line)
    }
}

extension ActivationFunction {
    var ref: RefActivation {
        switch self {
        case .linear: return .linear
        case .relu: return .relu
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .softmax: return .softmax
        case .logSoftmax: return .logSoftmax
        case .elu: return .elu(1)
        case .selu: return .selu
        case .softplus: return .softplus
        case .softsign: return .softsign
        case .exponential: return .exponential
        case .swish, .silu: return .swish
        case .mish: return .mish
        case .gelu: return .gelu
        case .hardSigmoid: return .hardSigmoid
        case .hardSigmoidKeras3: return .hardSigmoidRelu6
        case .hardSilu, .hardSwish: return .hardSilu
        case .relu6: return .relu6
        case .leakyRelu: return .leakyRelu(0.2)
        }
    }
}
