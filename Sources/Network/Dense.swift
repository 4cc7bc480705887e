import KerasFile
import Kernels

/// Keras's Dense on the last axis: y = activation(x W + b), W stored (in, out).
final class DenseLayer: NetworkLayer {
    let name: String
    let spec: DenseSpec
    let outputShape: [Int]
    let inFeatures: Int
    let kernelParam: Parameter
    let biasParam: Parameter?
    private let activation: ActivationKernel
    var output = Tensor(zeros: [0])
    private var z = Tensor(zeros: [0])
    private var gradZ = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, spec: DenseSpec, inputShape: [Int], store: ParameterStore = ParameterStore()) throws {
        self.name = name
        self.spec = spec
        guard let last = inputShape.last, last > 0 else {
            throw NetworkError(layer: name, "Dense needs an input with a last axis, got \(describeShape(inputShape))")
        }
        guard spec.units > 0 else { throw NetworkError(layer: name, "units must be positive, got \(spec.units)") }
        self.inFeatures = last
        self.outputShape = Array(inputShape.dropLast()) + [spec.units]
        self.activation = spec.activation.kernel(shape: outputShape)
        self.kernelParam = try store.parameter(layer: name, name: "kernel", shape: [last, spec.units])
        self.biasParam = spec.useBias ? try store.parameter(layer: name, name: "bias", shape: [spec.units]) : nil
    }

    var parameters: [Parameter] { [kernelParam] + (biasParam.map { [$0] } ?? []) }
    var finalActivation: ActivationFunction { spec.activation }
    var preActivation: Tensor? { spec.activation == .linear ? nil : z }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        let rows = input.count / inFeatures
        let shape = [input.samples] + outputShape
        output.ensureShape(shape)
        let linear = spec.activation == .linear
        if !linear { z.ensureShape(shape) }
        let nIn = inFeatures, nOut = spec.units
        func run(_ dst: UnsafeMutablePointer<Float>) {
            input.withPointer { x in kernelParam.value.withPointer { w in
                if let biasParam {
                    biasParam.value.withPointer { b in
                        DenseKernel.forward(input: x, batch: rows, inFeatures: nIn, outFeatures: nOut, kernel: w, bias: b, output: dst)
                    }
                } else {
                    DenseKernel.forward(input: x, batch: rows, inFeatures: nIn, outFeatures: nOut, kernel: w, bias: nil, output: dst)
                }
            } }
        }
        if linear {
            output.withMutablePointer { run($0) }
        } else {
            z.withMutablePointer { run($0) }
            let a = activation, n = z.count
            z.withPointer { zp in output.withMutablePointer { a.forward(zp, $0, count: n) } }
        }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        let rows = input.count / inFeatures
        var dz = gradOutput
        if spec.activation != .linear && !skipActivation {
            gradZ.ensureShape(gradOutput.shape)
            let a = activation, n = gradOutput.count
            z.withPointer { x in output.withPointer { y in gradOutput.withPointer { dy in gradZ.withMutablePointer { dx in
                a.backward(input: x, output: y, gradOutput: dy, gradInput: dx, count: n)
            } } } }
            dz = gradZ
        }
        if needInputGradient { gradInput.ensureShape(input.shape) }
        let nIn = inFeatures, nOut = spec.units
        input.withPointer { x in dz.withPointer { dy in kernelParam.value.withPointer { w in
            kernelParam.gradient.withMutablePointer { gw in
                func run(_ gb: UnsafeMutablePointer<Float>?) {
                    if needInputGradient {
                        gradInput.withMutablePointer { dx in
                            DenseKernel.backward(input: x, gradOutput: dy, batch: rows, inFeatures: nIn, outFeatures: nOut,
                                                 kernel: w, gradKernel: gw, gradBias: gb, gradInput: dx)
                        }
                    } else {
                        DenseKernel.backward(input: x, gradOutput: dy, batch: rows, inFeatures: nIn, outFeatures: nOut,
                                             kernel: w, gradKernel: gw, gradBias: gb, gradInput: nil)
                    }
                }
                if let biasParam { biasParam.gradient.withMutablePointer { run($0) } } else { run(nil) }
            }
        } } }
        return needInputGradient ? gradInput : nil
    }
}
