import Foundation
import HDF5
import ReferenceMath
@testable import KerasFile
import Kernels
@testable import Network
import XCTest

/// Every activation, activation layer, Rescaling, Normalization and BatchNormalization case of
/// fixtures/ref-layers.h5 (tools/layer_reference.py: real tf-keras 2.21 and Keras 3.15 on
/// TensorFlow): the layer built from the config Keras wrote, one call with training=True, its
/// output, the input and weight gradients of sum(r * y), and the weights after the call
/// (BatchNormalization's moving statistics after one update).
final class KerasLayerReferenceTests: XCTestCase {
    func check(_ generation: KerasGeneration, tag: String) throws {
        let file = try File.open(KerasPredictionParityTests.fixture("ref-layers.h5"))
        let root = try file.root.group(tag)
        var checked = 0
        for name in try root.childNames() {
            let g = try root.group(name)
            let json = try JSONValue.parse(try XCTUnwrap(g.stringAttribute("layer")))
            let spec = try LayerParser.parse(json, generation: generation)
            XCTAssertEqual(spec.refusals, [], "\(tag)/\(name)")
            func tensor(_ key: String) throws -> Tensor { Tensor(try g.dataset(key).read()) }
            let x = try tensor("x")
            let layer: NetworkLayer
            switch try Graph.makeLayer(spec, inputShapes: [Array(x.shape.dropFirst())], store: ParameterStore()) {
            case .single(let l): layer = l
            default: XCTFail("\(name) is not a single-input layer"); continue
            }
            for (i, p) in layer.parameters.enumerated() {
                try p.configure(spec.training)
                p.value = try tensor("w\(i)")
                p.gradient = Tensor(zeros: p.shape)
            }
            var rng = SeededGenerator(seed: 1)
            let training = name != "bn_inference"
            layer.forward(x, training: training, rng: &rng)
            let y = try tensor("y")
            XCTAssertLessThan(relativeError(doubles(layer.output), doubles(y)), 2e-6, "\(tag)/\(name) output")
            let r = try tensor("r")
            let dx = try XCTUnwrap(layer.backward(input: x, gradOutput: r, skipActivation: false, needInputGradient: true))
            XCTAssertLessThan(relativeError(doubles(dx), doubles(try tensor("g"))), 1e-5, "\(tag)/\(name) input gradient")
            for (i, p) in layer.parameters.filter(\.trainable).enumerated() {
                XCTAssertLessThan(relativeError(doubles(p.gradient), doubles(try tensor("dw\(i)"))), 1e-5,
                                  "\(tag)/\(name) gradient of \(p.weightName)")
            }
            for (i, p) in layer.parameters.enumerated() {
                XCTAssertLessThan(relativeError(doubles(p.value), doubles(try tensor("a\(i)")), floor: 1e-6), 1e-6,
                                  "\(tag)/\(name) \(p.weightName) after the call")
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 30)
    }

    func testTFKeras() throws { try check(.tfKeras, tag: "tfk") }
    func testKeras3() throws { try check(.keras3, tag: "k3") }
}
