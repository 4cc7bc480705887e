import XCTest
import KerasFile
@testable import Kernels
@testable import Network

final class InitializerTests: XCTestCase {
    func testParsesKeras2Keras3AndStringForms() throws {
        let k2 = JSONValue.object([("class_name", .string("HeNormal")), ("config", .object([("seed", .null)]))])
        XCTAssertEqual(try Initializer.parse(k2, default: .constant(0), layer: "l"), .varianceScaling(scale: 2, mode: "fan_in", distribution: "truncated_normal"))
        let k3 = JSONValue.object([("module", .string("keras.initializers")), ("class_name", .string("RandomUniform")),
                                   ("config", .object([("minval", .double(-0.1)), ("maxval", .double(0.2)), ("seed", .null)])), ("registered_name", .null)])
        XCTAssertEqual(try Initializer.parse(k3, default: .constant(0), layer: "l"), .uniform(min: -0.1, max: 0.2))
        let k22 = JSONValue.object([("class_name", .string("VarianceScaling")),
                                    ("config", .object([("scale", .double(1)), ("mode", .string("fan_avg")), ("distribution", .string("uniform")), ("seed", .null)]))])
        XCTAssertEqual(try Initializer.parse(k22, default: .constant(0), layer: "l"), .glorotUniform)
        XCTAssertEqual(try Initializer.parse(.string("zeros"), default: .glorotUniform, layer: "l"), .constant(0))
        XCTAssertEqual(try Initializer.parse(nil, default: .glorotUniform, layer: "l"), .glorotUniform)
        XCTAssertThrowsError(try Initializer.parse(.string("Orthogonal"), default: .glorotUniform, layer: "conv9")) {
            XCTAssertTrue("\($0)".contains("conv9"))
        }
    }

    func testGlorotUniformBoundsAndReproducibility() throws {
        let def = functionalModel(input: [2, 8, 8], [
            ("conv", .conv2D(Conv2DSpec(filters: 4, kernelSize: (3, 3), dataFormat: .channelsFirst))),
            ("flat", .flatten(.channelsFirst)),
            ("dense", .dense(DenseSpec(units: 3))),
        ])
        let a = try Network(definition: def, initializerSeed: 42)
        let b = try Network(definition: def, initializerSeed: 42)
        let c = try Network(definition: def, initializerSeed: 43)
        XCTAssertEqual(a.parameters, b.parameters)
        XCTAssertNotEqual(a.parameters, c.parameters)
        let limit = Float((6.0 / Double(2 * 9 + 4 * 9)).squareRoot())
        let k = a.parameters[0].data
        XCTAssertTrue(k.allSatisfy { abs($0) <= limit })
        XCTAssertGreaterThan(k.map(abs).max()!, limit * 0.8)
        XCTAssertTrue(a.parameters[1].data.allSatisfy { $0 == 0 })
    }

    func testNormalDistributionsHaveTheirStandardDeviation() {
        var rng = SeededGenerator(seed: 1)
        let v = Initializer.varianceScaling(scale: 2, mode: "fan_in", distribution: "truncated_normal").values(shape: [100, 200], rng: &rng)
        let sd = (v.map { Double($0 * $0) }.reduce(0, +) / Double(v.count)).squareRoot()
        XCTAssertEqual(sd, (2.0 / 100).squareRoot(), accuracy: 0.005)
        let u = Initializer.normal(mean: 1, stddev: 0.5).values(shape: [20000], rng: &rng)
        XCTAssertEqual(u.map(Double.init).reduce(0, +) / 20000, 1, accuracy: 0.02)
    }
}
