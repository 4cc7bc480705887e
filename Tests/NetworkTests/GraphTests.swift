import KerasFile
import ReferenceMath
import XCTest
@testable import Kernels
@testable import Network

/// The network as a graph: merges, a tensor read by several layers (gradients summed), a layer
/// called twice (one set of weights), broadcasting merges; whole-graph gradients against finite
/// differences of a Double reference written out by hand.
final class GraphTests: XCTestCase {
    private func layer(_ cls: String, _ name: String, _ config: String, _ inbound: [[String]]) -> String {
        let nodes = inbound.map { call in "[" + call.map { ref in
            let parts = ref.split(separator: ":")
            return "[\"\(parts[0])\", \(parts.count > 1 ? String(parts[1]) : "0"), 0, {}]"
        }.joined(separator: ", ") + "]" }.joined(separator: ", ")
        return #"{"class_name": "\#(cls)", "name": "\#(name)", "config": {"name": "\#(name)"\#(config.isEmpty ? "" : ", " + config)}, "inbound_nodes": [\#(nodes)]}"#
    }

    private func model(_ layers: [String], output: String) throws -> ModelDefinition {
        try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "g", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 4]}, "inbound_nodes": []},
              \#(layers.joined(separator: ",\n"))],
             "input_layers": [["in", 0, 0]], "output_layers": [["\#(output)", 0, 0]]}}
            """#)
    }

    /// in -> a = tanh(Dense 4); s = tanh(Dense 4) called on `in` and on `a`; add = a + s0 + s1;
    /// mul = add * a; mx = max(add, mul); cat = [mx, s1]; out = Dense 2.
    private func sharedGraph() throws -> ModelDefinition {
        try model([
            layer("Dense", "a", #""units": 4, "activation": "tanh""#, [["in"]]),
            layer("Dense", "s", #""units": 4, "activation": "tanh""#, [["in"], ["a"]]),
            layer("Add", "add", "", [["a", "s:0", "s:1"]]),
            layer("Multiply", "mul", "", [["add", "a"]]),
            layer("Maximum", "mx", "", [["add", "mul"]]),
            layer("Concatenate", "cat", #""axis": -1"#, [["mx", "s:1"]]),
            layer("Dense", "out", #""units": 2"#, [["cat"]]),
        ], output: "out")
    }

    private func dense(_ x: [Double], _ k: [Double], _ b: [Double], nIn: Int, nOut: Int, tanh useTanh: Bool) -> [Double] {
        (0..<nOut).map { o in
            let z = (0..<nIn).reduce(b[o]) { $0 + x[$1] * k[$1 * nOut + o] }
            return useTanh ? tanh(z) : z
        }
    }

    private func sharedReference(_ x: [Double], _ p: [[Double]], batch: Int) -> [Double] {
        (0..<batch).flatMap { s -> [Double] in
            let xs = Array(x[(s * 4)..<(s * 4 + 4)])
            let a = dense(xs, p[0], p[1], nIn: 4, nOut: 4, tanh: true)
            let s0 = dense(xs, p[2], p[3], nIn: 4, nOut: 4, tanh: true)
            let s1 = dense(a, p[2], p[3], nIn: 4, nOut: 4, tanh: true)
            let add = (0..<4).map { a[$0] + s0[$0] + s1[$0] }
            let mul = (0..<4).map { add[$0] * a[$0] }
            let mx = (0..<4).map { max(add[$0], mul[$0]) }
            return dense(mx + s1, p[4], p[5], nIn: 8, nOut: 2, tanh: false)
        }
    }

    private func checkGradients(_ net: Network, inputCount: Int, tolerance: Double = 2e-3,
                                _ reference: ([Double], [[Double]], Int) -> [Double]) throws {
        try fill(net, seed: 11)
        let batch = 3
        let x = randomValues(batch * inputCount, seed: 5)
        let params = net.variables.map { doubles($0.value) }
        let y = try net.forward(Tensor(shape: [batch] + net.inputShape, data: x.map(Float.init)), training: true)
        XCTAssertLessThan(relativeError(doubles(y), reference(x, params, batch)), 1e-5, "forward")
        let r = randomValues(y.count, seed: 6)
        try net.backward(Tensor(shape: y.shape, data: r.map(Float.init)))
        for (i, v) in net.variables.enumerated() {
            let fd = finiteDifferences({ var q = params; q[i] = $0; return dot(r, reference(x, q, batch)) }, at: params[i])
            XCTAssertLessThan(relativeError(doubles(v.gradient), fd), tolerance, "\(v.layerName)/\(v.weightName)")
        }
    }

    func testSharedLayerFanOutAndMergesAgainstFiniteDifferences() throws {
        let net = try Network(definition: try sharedGraph())
        // The shared layer's weights appear once.
        XCTAssertEqual(net.parameterNames.map { "\($0.layer)/\($0.weight)" }, ["a/kernel", "a/bias", "s/kernel", "s/bias", "out/kernel", "out/bias"])
        XCTAssertEqual(net.layerInfos.map(\.outputShape), [[4], [4], [4], [4], [4], [4], [8], [2]])
        XCTAssertEqual(net.layerInfos[5].inbound, ["add", "mul"])
        try checkGradients(net, inputCount: 4, sharedReference)
    }

    /// A squeeze-excite style Multiply: (2, 3) times a (2, 1) gate broadcast along the last axis.
    func testBroadcastingMultiply() throws {
        let definition = try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "se", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 2, 3]}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "gate", "config": {"name": "gate", "units": 1, "activation": "sigmoid"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
              {"class_name": "Multiply", "name": "mul", "config": {"name": "mul"}, "inbound_nodes": [[["in", 0, 0, {}], ["gate", 0, 0, {}]]]},
              {"class_name": "Flatten", "name": "flat", "config": {"name": "flat"}, "inbound_nodes": [[["mul", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["flat", 0, 0, {}]]]}],
             "input_layers": [["in", 0, 0]], "output_layers": [["out", 0, 0]]}}
            """#)
        let net = try Network(definition: definition)
        XCTAssertEqual(net.layerInfos[2].outputShape, [2, 3])
        try checkGradients(net, inputCount: 6) { x, p, batch in
            (0..<batch).flatMap { s -> [Double] in
                var flat: [Double] = []
                for row in 0..<2 {
                    let xs = Array(x[(s * 6 + row * 3)..<(s * 6 + row * 3 + 3)])
                    let g = 1 / (1 + exp(-(0..<3).reduce(p[1][0]) { $0 + xs[$1] * p[0][$1] }))
                    flat += xs.map { $0 * g }
                }
                return self.dense(flat, p[2], p[3], nIn: 6, nOut: 2, tanh: false)
            }
        }
    }

    func testEveryElementwiseMergeAndItsTies() throws {
        let ops: [(String, (Double, Double, Double) -> Double)] = [
            ("Add", { $0 + $1 + $2 }), ("Multiply", { $0 * $1 * $2 }), ("Average", { ($0 + $1 + $2) / 3 }),
            ("Maximum", { max(max($0, $1), $2) }), ("Minimum", { min(min($0, $1), $2) }),
        ]
        for (op, f) in ops {
            let definition = try model([
                layer("Dense", "p", #""units": 4"#, [["in"]]),
                layer("Dense", "q", #""units": 4"#, [["in"]]),
                layer(op, "m", "", [["p", "q", "in"]]),
                layer("Dense", "out", #""units": 2"#, [["m"]]),
            ], output: "out")
            try checkGradients(try Network(definition: definition), inputCount: 4) { x, p, batch in
                (0..<batch).flatMap { s -> [Double] in
                    let xs = Array(x[(s * 4)..<(s * 4 + 4)])
                    let a = self.dense(xs, p[0], p[1], nIn: 4, nOut: 4, tanh: false)
                    let b = self.dense(xs, p[2], p[3], nIn: 4, nOut: 4, tanh: false)
                    return self.dense((0..<4).map { f(a[$0], b[$0], xs[$0]) }, p[4], p[5], nIn: 4, nOut: 2, tanh: false)
                }
            }
        }
        // A tie in Maximum: the gradient goes to the earlier input only, as TensorFlow's.
        let merge = try MergeLayer(name: "m", operation: .maximum, inputShapes: [[2], [2]])
        let a = Tensor(shape: [1, 2], data: [1, 5]), b = Tensor(shape: [1, 2], data: [1, 3])
        merge.forward([a, b])
        let g = merge.backward(inputs: [a, b], gradOutput: Tensor(shape: [1, 2], data: [1, 1]), needInputGradients: [true, true])
        XCTAssertEqual(g[0]?.data, [1, 1])
        XCTAssertEqual(g[1]?.data, [0, 0])
        let subtract = try MergeLayer(name: "s", operation: .subtract, inputShapes: [[2], [2]])
        subtract.forward([a, b])
        XCTAssertEqual(subtract.output.data, [0, 2])
        XCTAssertThrowsError(try MergeLayer(name: "s", operation: .subtract, inputShapes: [[2], [2], [2]]))
        XCTAssertThrowsError(try MergeLayer(name: "m", operation: .add, inputShapes: [[2, 3], [3, 2]]))
    }

    func testWiringErrorsNameTheLayer() throws {
        // A call index the producer does not have.
        XCTAssertThrowsError(try Network(definition: try model([layer("Dense", "a", #""units": 2"#, [["in:1"]])], output: "a"))) {
            XCTAssertTrue("\($0)".contains("layer 'a'") && "\($0)".contains("call 1 of 'in'"), "\($0)")
        }
        // A cycle.
        XCTAssertThrowsError(try Network(definition: try model([
            layer("Dense", "a", #""units": 4"#, [["b"]]), layer("Dense", "b", #""units": 4"#, [["a"]]),
        ], output: "b"))) { XCTAssertTrue("\($0)".contains("cycle"), "\($0)") }
        // An explicit training argument (tf.keras: Monte Carlo dropout) is kept per call.
        let mc = try model([layer("Dropout", "d", #""rate": 0.5"#, [["in"]]), layer("Dense", "out", #""units": 2"#, [["d"]])], output: "out")
        var forced = mc
        forced.layers[1].callTraining = [true]
        let net = try Network(definition: forced)
        try fill(net, seed: 2)
        let x = Tensor(repeating: 1, shape: [64, 4])
        XCTAssertNotEqual(try net.forward(x, training: false), try Network(definition: mc, weights: net.weightsByLayer).forward(x, training: false))
    }

    /// A model listed in reverse order 20000 layers deep builds (no recursion, no quadratic sort).
    func testDeepReversedChainBuilds() throws {
        var layers: [String] = []
        for i in stride(from: 20000, through: 1, by: -1) {
            layers.append(layer("Activation", "act\(i)", #""activation": "linear""#, [[i == 1 ? "in" : "act\(i - 1)"]]))
        }
        let start = Date()
        let net = try Network(definition: try model(layers, output: "act20000"))
        XCTAssertEqual(net.outputShape, [4])
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    // MARK: Several inputs and outputs

    /// Inputs a (3) and b (2); ha = tanh(Dense 3)(a); pa = softmax(Dense 2)([ha, b]) is output
    /// A and also feeds pb = Dense 2([pa, ha]), output B. The outputs are a dict written in
    /// reverse order: flat order sorts the keys (pa, pb), as `tree.flatten` does.
    private func twoInTwoOut() throws -> ModelDefinition {
        try ModelConfigParser.parse(#"""
            {"class_name": "Functional", "config": {"name": "mio", "layers": [
              {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_input_shape": [null, 3]}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "b", "config": {"name": "b", "batch_input_shape": [null, 2]}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "ha", "config": {"name": "ha", "units": 3, "activation": "tanh"}, "inbound_nodes": [[["a", 0, 0, {}]]]},
              {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["ha", 0, 0, {}], ["b", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "pa", "config": {"name": "pa", "units": 2, "activation": "softmax"}, "inbound_nodes": [[["cat", 0, 0, {}]]]},
              {"class_name": "Concatenate", "name": "mix", "config": {"name": "mix", "axis": -1}, "inbound_nodes": [[["pa", 0, 0, {}], ["ha", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "pb", "config": {"name": "pb", "units": 2}, "inbound_nodes": [[["mix", 0, 0, {}]]]}],
             "input_layers": [["a", 0, 0], ["b", 0, 0]],
             "output_layers": {"pb": ["pb", 0, 0], "pa": ["pa", 0, 0]}}}
            """#)
    }

    /// Per sample: output A's logits and softmax, and output B.
    private func twoInTwoOutReference(_ xa: [Double], _ xb: [Double], _ p: [[Double]], batch: Int) -> (za: [Double], pa: [Double], pb: [Double]) {
        var za: [Double] = [], pa: [Double] = [], pb: [Double] = []
        for s in 0..<batch {
            let a = Array(xa[(s * 3)..<(s * 3 + 3)]), b = Array(xb[(s * 2)..<(s * 2 + 2)])
            let ha = dense(a, p[0], p[1], nIn: 3, nOut: 3, tanh: true)
            let z = dense(ha + b, p[2], p[3], nIn: 5, nOut: 2, tanh: false)
            let top = z.max()!, e = z.map { exp($0 - top) }, sum = e.reduce(0, +)
            let y = e.map { $0 / sum }
            za += z
            pa += y
            pb += dense(y + ha, p[4], p[5], nIn: 5, nOut: 2, tanh: false)
        }
        return (za, pa, pb)
    }

    /// Both outputs' gradients flow back and meet at `pa` (its own loss's and pb's through it)
    /// and at `ha` (fan-out): the parameter gradients of dot(rA, A) + dot(rB, B) against finite
    /// differences, with A's gradient taken w.r.t. its output or (tf.keras's cached logits)
    /// w.r.t. its logits, and with output A left without a loss.
    func testTwoInputsTwoOutputsGradientsMeetAgainstFiniteDifferences() throws {
        let definition = try twoInTwoOut()
        XCTAssertEqual(definition.outputs.map(\.layer), ["pa", "pb"])
        let net = try Network(definition: definition)
        XCTAssertEqual(net.inputShapes, [[3], [2]])
        XCTAssertEqual(net.outputShapes, [[2], [2]])
        XCTAssertEqual(net.outputActivation(0), .softmax)
        XCTAssertNil(net.outputActivation(1))
        try fill(net, seed: 21)
        let batch = 3
        let xa = randomValues(batch * 3, seed: 7), xb = randomValues(batch * 2, seed: 8)
        let params = net.variables.map { doubles($0.value) }
        let outputs = try net.forward(inputs: [Tensor(shape: [batch, 3], data: xa.map(Float.init)),
                                               Tensor(shape: [batch, 2], data: xb.map(Float.init))], training: true)
        let reference = twoInTwoOutReference(xa, xb, params, batch: batch)
        XCTAssertLessThan(relativeError(doubles(outputs[0]), reference.pa), 1e-5)
        XCTAssertLessThan(relativeError(doubles(outputs[1]), reference.pb), 1e-5)
        XCTAssertLessThan(relativeError(doubles(try XCTUnwrap(net.outputLogits(0))), reference.za), 1e-5)
        let rA = randomValues(batch * 2, seed: 9), rB = randomValues(batch * 2, seed: 10)
        let cases: [(String, GradientTarget?, (Int, [Double]) -> Double)] = [
            ("A on its output", .output, { i, q in
                var p = params; p[i] = q
                let r = self.twoInTwoOutReference(xa, xb, p, batch: batch)
                return dot(rA, r.pa) + dot(rB, r.pb)
            }),
            ("A on its logits", .logits, { i, q in
                var p = params; p[i] = q
                let r = self.twoInTwoOutReference(xa, xb, p, batch: batch)
                return dot(rA, r.za) + dot(rB, r.pb)
            }),
            ("A without a loss", nil, { i, q in
                var p = params; p[i] = q
                return dot(rB, self.twoInTwoOutReference(xa, xb, p, batch: batch).pb)
            }),
        ]
        for (label, target, loss) in cases {
            let gradA = target.map { OutputGradient(Tensor(shape: [batch, 2], data: rA.map(Float.init)), withRespectTo: $0) }
            try net.backward(outputs: [gradA, OutputGradient(Tensor(shape: [batch, 2], data: rB.map(Float.init)))])
            for (i, v) in net.variables.enumerated() {
                let fd = finiteDifferences({ loss(i, $0) }, at: params[i])
                XCTAssertLessThan(relativeError(doubles(v.gradient), fd), 2e-3, "\(label): \(v.layerName)/\(v.weightName)")
            }
        }
    }

    func testSeveralInputsAndOutputsAreCheckedByName() throws {
        let net = try Network(definition: try twoInTwoOut())
        let a = Tensor(zeros: [4, 3]), b = Tensor(zeros: [4, 2])
        XCTAssertThrowsError(try net.forward(a, training: false)) {
            XCTAssertEqual("\($0)", "the model has 2 inputs (a, b); give one tensor for each")
        }
        XCTAssertThrowsError(try net.forward(inputs: [a], training: false)) {
            XCTAssertEqual("\($0)", "1 input tensors given; the model has 2 inputs")
        }
        XCTAssertThrowsError(try net.forward(inputs: [a, Tensor(zeros: [4, 3])], training: false)) {
            XCTAssertEqual("\($0)", "input 'b' of shape (4, 3) does not match the model's input 'b' (batch, 2)")
        }
        XCTAssertThrowsError(try net.forward(inputs: [a, Tensor(zeros: [5, 2])], training: false)) {
            XCTAssertEqual("\($0)", "input 'b' holds 5 samples but input 'a' 4")
        }
        _ = try net.forward(inputs: [a, b], training: false)
        XCTAssertThrowsError(try net.backward(Tensor(zeros: [4, 2]))) {
            XCTAssertEqual("\($0)", "the model has 2 outputs; give a gradient (or none) for each")
        }
        XCTAssertThrowsError(try net.backward(outputs: [nil, OutputGradient(Tensor(zeros: [4, 3]))])) {
            XCTAssertEqual("\($0)", "gradient of shape (4, 3) does not match output 'pb' (4, 2)")
        }
        XCTAssertThrowsError(try net.backward(outputs: [nil, OutputGradient(Tensor(zeros: [4, 2]), withRespectTo: .logits)])) {
            XCTAssertEqual("\($0)", "layer 'pb': the output does not come from a softmax or sigmoid, so it has no logits")
        }
        // An InputLayer the outputs need that the model does not list ("Graph disconnected").
        var missing = try twoInTwoOut()
        missing.inputs = [TensorRef(layer: "a")]
        XCTAssertThrowsError(try Network(definition: missing)) {
            XCTAssertEqual("\($0)", "layer 'b': the model's outputs need this InputLayer, which is not among the model's inputs")
        }
        // A listed input no output reads.
        var unused = try twoInTwoOut()
        unused.outputs = [TensorRef(layer: "ha")]
        XCTAssertThrowsError(try Network(definition: unused)) {
            XCTAssertEqual("\($0)", "layer 'ha': the output does not depend on the model's input layer 'b'")
        }
    }
}
