import XCTest
import Kernels
@testable import Training

/// The three steps every optimizer reference was made with. The references come from
/// /tmp/ref/opt_tfk.py (tf-keras 2.21, CPU) and opt_k3.py (Keras 3.15, TensorFlow backend):
///
///     w = tf.Variable([0.5, -1.25, 2.0, 0.0], name="w"); b = tf.Variable([0.1, -0.3], name="b")
///     for gw, gb in GRADS: opt.apply_gradients([(gw, w), (gb, b)])
///     print(w.numpy(), b.numpy(), [(v.name, v.numpy()) for v in opt.variables])
enum OptimizerFixture {
    static let weights = [Tensor(shape: [4], data: [0.5, -1.25, 2.0, 0.0]), Tensor(shape: [2], data: [0.1, -0.3])]
    static let gradients: [[Tensor]] = [
        [Tensor(shape: [4], data: [0.1, -0.2, 0.3, 1e-4]), Tensor(shape: [2], data: [0.5, -0.05])],
        [Tensor(shape: [4], data: [-0.3, 0.25, 0.0, 2.0]), Tensor(shape: [2], data: [0.0, 1.5])],
        [Tensor(shape: [4], data: [0.7, -0.01, -0.4, 3.0]), Tensor(shape: [2], data: [-2.0, 0.02])],
    ]

    /// Runs the three steps and returns the weights.
    static func run(_ optimizer: inout Optimizer) throws -> [Tensor] {
        var w = weights
        for g in gradients { try optimizer.step(weights: &w, gradients: g) }
        return w
    }

    /// Float32 results may differ from TensorFlow's in the last ulps (Eigen's pow and rsqrt).
    static func assertClose(_ actual: Tensor?, _ expected: [Double], ulps: Double = 4,
                            _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        guard let actual else { return XCTFail("missing tensor \(message)", file: file, line: line) }
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        for (a, e) in zip(actual.data, expected) {
            let tolerance = ulps * Double(Float(e).ulp) + 1e-12
            XCTAssertEqual(Double(a), e, accuracy: tolerance, "\(message) \(actual.data) vs \(expected)", file: file, line: line)
        }
    }
}
