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
}
