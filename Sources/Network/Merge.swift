import KerasFile
import Kernels

/// Keras's element-wise merges of inputs of one shape, folded over the inputs in order as
/// `_Merge._merge_function` does (tf_keras/src/layers/merging/add.py etc., and Keras 3's
/// keras/src/layers/merging/): Add `((x0 + x1) + x2) ...`, Subtract `x0 - x1`, Multiply the
/// running product, Average the running sum divided by the count, Maximum/Minimum the running
/// max/min. Gradients follow TensorFlow's for each fold: `maximum(a, b)` passes the gradient to a
/// where a >= b (to the earlier input on ties), `minimum` where a <= b. Inputs of one rank whose
/// sizes differ only where one of them is 1 broadcast as TensorFlow's ops do (a squeeze-excite
/// block's Multiply of (h, w, c) by (1, 1, c)): such an input is expanded to the output's shape
/// and its gradient summed back over the expanded axes.
final class MergeLayer: MergingLayer, ReluFusing {
    let name: String
    let operation: MergeOperation
    let outputShape: [Int]
    private let inputCount: Int
    var output = Tensor(zeros: [0])
    private var gradInputs: [Tensor]
    /// Multiply: the running products x0, x0*x1, ... of the last forward. Maximum/Minimum:
    /// the running extreme.
    private var partials: [Tensor] = []
    /// Each input's per-sample shape; those that differ from `outputShape` are broadcast.
    private let inputShapes: [[Int]]
    /// The broadcast inputs of the last forward, expanded to the output's shape (nil: not broadcast).
    private var expanded: [Tensor?]
    /// Set by `Graph.fuseReLUs` when this Add's only reader is a plain ReLU: the forward writes
    /// relu(x0 + x1) and the backward masks the gradient on it (ReluGrad on the stored output).
    var fusedRelu = false {
        willSet { precondition(!newValue || canFuseRelu, "a ReLU is fused only into an Add of two inputs of one shape") }
    }
    /// An Add of two inputs of the output's shape (one pass: `addElementwise`).
    var canFuseRelu: Bool { operation == .add && inputCount == 2 && inputShapes.allSatisfy { $0 == outputShape } }

    init(name: String, operation: MergeOperation, inputShapes: [[Int]]) throws {
        self.name = name
        self.operation = operation
        guard inputShapes.count >= 2 else {
            throw NetworkError(layer: name, "\(operation.rawValue) needs at least two inputs, got \(inputShapes.count)")
        }
        if operation == .subtract, inputShapes.count != 2 {
            throw NetworkError(layer: name, "Subtract takes exactly two inputs, got \(inputShapes.count)")
        }
        let rank = inputShapes[0].count
        var shape = inputShapes[0]
        for input in inputShapes {
            guard input.count == rank else {
                throw NetworkError(layer: name, "\(operation.rawValue) of inputs of different ranks \(inputShapes.map(describeShape).joined(separator: ", ")) is not computed")
            }
            for d in 0..<rank where input[d] != shape[d] {
                guard input[d] == 1 || shape[d] == 1 else {
                    throw NetworkError(layer: name, "\(operation.rawValue) of inputs of shapes \(inputShapes.map(describeShape).joined(separator: ", ")), which do not broadcast")
                }
                shape[d] = max(shape[d], input[d])
            }
        }
        self.outputShape = shape
        self.inputShapes = inputShapes
        self.expanded = Array(repeating: nil, count: inputShapes.count)
        self.inputCount = inputShapes.count
        self.gradInputs = Array(repeating: Tensor(zeros: [0]), count: inputShapes.count)
    }

    func forward(_ inputs: [Tensor]) {
        var inputs = inputs
        for i in inputs.indices where inputShapes[i] != outputShape {
            expanded[i] = broadcast(inputs[i], from: inputShapes[i])
            inputs[i] = expanded[i]!
        }
        let n = inputs[0].count
        output.ensureShape(inputs[0].shape)
        let keepsPartials = operation == .multiply || operation == .maximum || operation == .minimum
        // Add and Average start with x0 + x1 in one pass over the cores (the same sum as copying
        // x0 and adding x1); the other folds copy x0 first.
        let firstFold = operation == .add || operation == .average ? 2 : 1
        if firstFold == 2 {
            let relu = fusedRelu
            inputs[0].withPointer { a in inputs[1].withPointer { b in output.withMutablePointer {
                addElementwise(a, b, into: $0, count: n, relu: relu)
            } } }
        } else {
            copyValues(inputs[0], into: &output, shape: inputs[0].shape)
        }
        if keepsPartials {
            if partials.count != inputCount - 1 { partials = Array(repeating: Tensor(zeros: [0]), count: inputCount - 1) }
        }
        for i in firstFold..<inputCount {
            if keepsPartials { copyValues(output, into: &partials[i - 1], shape: output.shape) }
            let op = operation
            inputs[i].withPointer { x in output.withMutablePointer { y in
                switch op {
                case .add, .average: for j in 0..<n { y[j] += x[j] }
                case .subtract: for j in 0..<n { y[j] -= x[j] }
                case .multiply: for j in 0..<n { y[j] *= x[j] }
                case .maximum: for j in 0..<n { y[j] = y[j] >= x[j] ? y[j] : x[j] }
                case .minimum: for j in 0..<n { y[j] = y[j] <= x[j] ? y[j] : x[j] }
                }
            } }
        }
        if operation == .average {
            let count = Float(inputCount)
            output.withMutablePointer { y in for j in 0..<n { y[j] /= count } }
        }
    }

    func backward(inputs: [Tensor], gradOutput: Tensor, needInputGradients: [Bool]) -> [Tensor?] {
        var inputs = inputs
        for i in inputs.indices where inputShapes[i] != outputShape { inputs[i] = expanded[i]! }
        var gradients = sameShapeBackward(inputs: inputs, gradOutput: gradOutput, needInputGradients: needInputGradients)
        for i in inputs.indices where inputShapes[i] != outputShape {
            gradients[i] = gradients[i].map { reduce($0, to: inputShapes[i]) }
        }
        return gradients
    }

    /// The fused Add + ReLU's backward for gradients that met at the ReLU's output (from several
    /// readers, in the order they arrived): summed inside the masked pass, one pass where summing
    /// first took two (`Network.backward` hands them over unsummed: `Graph.sumsAtFusedAdd`).
    func backward(gradOutputs: [Tensor], needInputGradients: [Bool]) -> [Tensor?] {
        precondition(fusedRelu && gradOutputs.count >= 2)
        let n = output.count
        gradInputs[0].ensureShape(output.shape)
        output.withPointer { y in withPointers(gradOutputs) { gradients in gradInputs[0].withMutablePointer { dx in
            reluGradientOfSum(output: y, gradients: gradients, into: dx, count: n)
        } } }
        return needInputGradients.map { $0 ? gradInputs[0] : nil }
    }

    /// `input` (per sample `shape`) repeated along its size-1 axes to the output's shape.
    private func broadcast(_ input: Tensor, from shape: [Int]) -> Tensor {
        let batch = input.samples
        var out = Tensor(zeros: [batch] + outputShape)
        let map = broadcastIndex(from: outputShape, to: shape)
        let inCount = shape.reduce(1, *), outCount = map.count
        input.withPointer { x in out.withMutablePointer { y in
            for b in 0..<batch { for j in 0..<outCount { y[b * outCount + j] = x[b * inCount + map[j]] } }
        } }
        return out
    }

    /// The gradient of an expanded input summed back to its own shape (TensorFlow's reduce_sum
    /// over the broadcast axes).
    private func reduce(_ gradient: Tensor, to shape: [Int]) -> Tensor {
        let batch = gradient.samples
        let inCount = shape.reduce(1, *)
        var out = Tensor(zeros: [batch] + shape)
        let map = broadcastIndex(from: outputShape, to: shape)
        let outCount = map.count
        gradient.withPointer { g in out.withMutablePointer { y in
            for b in 0..<batch { for j in 0..<outCount { y[b * inCount + map[j]] += g[b * outCount + j] } }
        } }
        return out
    }

    private func sameShapeBackward(inputs: [Tensor], gradOutput: Tensor, needInputGradients: [Bool]) -> [Tensor?] {
        let n = gradOutput.count
        switch operation {
        case .add where fusedRelu:
            gradInputs[0].ensureShape(gradOutput.shape)
            output.withPointer { y in gradOutput.withPointer { dy in gradInputs[0].withMutablePointer { dx in
                ActivationKernel.relu.backward(input: y, output: y, gradOutput: dy, gradInput: dx, count: n)
            } } }
            return needInputGradients.map { $0 ? gradInputs[0] : nil }
        case .add:
            return needInputGradients.map { $0 ? gradOutput : nil }
        case .average:
            // RealDiv's gradient w.r.t. the sum: dy / count; each input gets it.
            let count = Float(inputCount)
            gradInputs[0].ensureShape(gradOutput.shape)
            gradOutput.withPointer { dy in gradInputs[0].withMutablePointer { dx in for j in 0..<n { dx[j] = dy[j] / count } } }
            return needInputGradients.map { $0 ? gradInputs[0] : nil }
        case .subtract:
            gradInputs[1].ensureShape(gradOutput.shape)
            gradOutput.withPointer { dy in gradInputs[1].withMutablePointer { dx in for j in 0..<n { dx[j] = -dy[j] } } }
            return [needInputGradients[0] ? gradOutput : nil, needInputGradients[1] ? gradInputs[1] : nil]
        case .multiply, .maximum, .minimum:
            // Back through the folds, last first: fold i combined partial (x0..x(i-1)) with x_i.
            var running = gradOutput
            var result = [Tensor?](repeating: nil, count: inputCount)
            for i in stride(from: inputCount - 1, through: 1, by: -1) {
                gradInputs[i].ensureShape(gradOutput.shape)
                let op = operation
                var towardPartial = Tensor(zeros: gradOutput.shape)
                running.withPointer { g in partials[i - 1].withPointer { a in inputs[i].withPointer { b in
                    gradInputs[i].withMutablePointer { db in towardPartial.withMutablePointer { da in
                        for j in 0..<n {
                            switch op {
                            case .multiply:
                                db[j] = g[j] * a[j]
                                da[j] = g[j] * b[j]
                            case .maximum:
                                let first = a[j] >= b[j]
                                da[j] = first ? g[j] : 0
                                db[j] = first ? 0 : g[j]
                            default:
                                let first = a[j] <= b[j]
                                da[j] = first ? g[j] : 0
                                db[j] = first ? 0 : g[j]
                            }
                        }
                    } }
                } } }
                if needInputGradients[i] { result[i] = gradInputs[i] }
                running = towardPartial
            }
            if needInputGradients[0] { result[0] = running }
            return result
        }
    }
}

/// Keras's Concatenate along one axis (the batch is axis 0 in Keras's count; -1 the last).
final class ConcatenateLayer: MergingLayer {
    let name: String
    let outputShape: [Int]
    /// Per sample: the product of the axes before the concatenation axis, and each input's
    /// block length (its size along the axis times the axes after it).
    private let outer: Int
    private let blocks: [Int]
    var output = Tensor(zeros: [0])
    private var gradInputs: [Tensor]

    init(name: String, axis: Int, inputShapes: [[Int]]) throws {
        self.name = name
        guard inputShapes.count >= 2 else {
            throw NetworkError(layer: name, "Concatenate needs at least two inputs, got \(inputShapes.count)")
        }
        let rank = inputShapes[0].count
        // Keras's axis counts the batch: axis k > 0 is per-sample axis k - 1; negative from the end.
        let a = axis > 0 ? axis - 1 : rank + axis
        guard rank > 0, (0..<rank).contains(a), inputShapes.allSatisfy({ $0.count == rank }) else {
            throw NetworkError(layer: name, "axis \(axis) does not fit inputs of shapes \(inputShapes.map(describeShape).joined(separator: ", "))")
        }
        for shape in inputShapes {
            for d in 0..<rank where d != a && shape[d] != inputShapes[0][d] {
                throw NetworkError(layer: name, "inputs of shapes \(inputShapes.map(describeShape).joined(separator: ", ")) differ outside axis \(axis)")
            }
        }
        var shape = inputShapes[0]
        shape[a] = inputShapes.reduce(0) { $0 + $1[a] }
        self.outputShape = shape
        self.outer = inputShapes[0][..<a].reduce(1, *)
        let inner = inputShapes[0][(a + 1)...].reduce(1, *)
        self.blocks = inputShapes.map { $0[a] * inner }
        self.gradInputs = Array(repeating: Tensor(zeros: [0]), count: inputShapes.count)
    }

    private var rowLength: Int { blocks.reduce(0, +) }

    func forward(_ inputs: [Tensor]) {
        let batch = inputs[0].samples
        output.ensureShape([batch] + outputShape)
        let rows = batch * outer, width = rowLength
        output.withMutablePointer { y in
            var offset = 0
            for (i, input) in inputs.enumerated() {
                let block = blocks[i]
                input.withPointer { x in
                    for r in 0..<rows { (y + r * width + offset).update(from: x + r * block, count: block) }
                }
                offset += block
            }
        }
    }

    func backward(inputs: [Tensor], gradOutput: Tensor, needInputGradients: [Bool]) -> [Tensor?] {
        let rows = gradOutput.samples * outer, width = rowLength
        var offset = 0
        var result = [Tensor?](repeating: nil, count: inputs.count)
        for i in inputs.indices {
            let block = blocks[i]
            if needInputGradients[i] {
                gradInputs[i].ensureShape(inputs[i].shape)
                gradOutput.withPointer { dy in gradInputs[i].withMutablePointer { dx in
                    for r in 0..<rows { (dx + r * block).update(from: dy + r * width + offset, count: block) }
                } }
                result[i] = gradInputs[i]
            }
            offset += block
        }
        return result
    }
}

/// Keras 3's operation on a tensor and a number, in float32 as TensorFlow computes it (the
/// number converted to float32): `x + c`, `x - c` or `c - x`, `x * c`, `max(x, c)`, `min(x, c)`.
/// Gradients as TensorFlow's: `maximum(a, b)` passes to a where a >= b, `minimum` where a <= b.
final class ScalarOperationLayer: NetworkLayer {
    let name: String
    let outputShape: [Int]
    let operation: MergeOperation
    let constant: Float
    let tensorFirst: Bool
    var output = Tensor(zeros: [0])
    private var gradInput = Tensor(zeros: [0])

    init(name: String, operation: MergeOperation, constant: Double, tensorFirst: Bool, inputShape: [Int]) {
        self.name = name
        self.operation = operation
        self.constant = Float(constant)
        self.tensorFirst = tensorFirst
        self.outputShape = inputShape
    }

    func forward(_ input: Tensor, training: Bool, rng: inout SeededGenerator) {
        output.ensureShape(input.shape)
        let c = constant, first = tensorFirst, op = operation, n = input.count
        input.withPointer { x in output.withMutablePointer { y in
            for i in 0..<n {
                switch op {
                case .add: y[i] = first ? x[i] + c : c + x[i]
                case .subtract: y[i] = first ? x[i] - c : c - x[i]
                case .multiply: y[i] = first ? x[i] * c : c * x[i]
                case .maximum: y[i] = first ? (x[i] >= c ? x[i] : c) : (c >= x[i] ? c : x[i])
                case .minimum: y[i] = first ? (x[i] <= c ? x[i] : c) : (c <= x[i] ? c : x[i])
                case .average: y[i] = (x[i] + c) / 2
                }
            }
        } }
    }

    func backward(input: Tensor, gradOutput: Tensor, skipActivation: Bool, needInputGradient: Bool) -> Tensor? {
        guard needInputGradient else { return nil }
        gradInput.ensureShape(gradOutput.shape)
        let c = constant, first = tensorFirst, op = operation, n = gradOutput.count
        input.withPointer { x in gradOutput.withPointer { g in gradInput.withMutablePointer { dx in
            for i in 0..<n {
                switch op {
                case .add: dx[i] = g[i]
                case .subtract: dx[i] = first ? g[i] : -g[i]
                case .multiply: dx[i] = g[i] * c
                case .maximum: dx[i] = (first ? x[i] >= c : !(c >= x[i])) ? g[i] : 0
                case .minimum: dx[i] = (first ? x[i] <= c : !(c <= x[i])) ? g[i] : 0
                case .average: dx[i] = g[i] / 2
                }
            }
        } } }
        return gradInput
    }
}
