import HDF5
import KerasFile
import Kernels
@testable import Training
import XCTest

/// Adagrad, Adadelta, Adamax, Nadam and AdamW state through each Keras's `optimizer_weights`
/// layout and back; resuming from it continues bit for bit.
final class OptimizerLayoutTests: XCTestCase {
    let variables: [(name: String, shape: [Int])] = [("w:0", [4]), ("b:0", [2])]
    let classes = ["Adagrad", "Adadelta", "Adamax", "Nadam", "AdamW"]

    private func supported(_ className: String, _ flavor: OptimizerFlavor) -> Bool {
        Optimizer.classRefusal(className, flavor) == nil
    }

    /// Two steps, save in tf.keras 2.11+'s layout, read it back into a fresh optimizer, then one
    /// more step on both: identical weights, slots and (Nadam) momentum-schedule product.
    func testResumeThroughTheWrittenLayoutIsBitIdentical() throws {
        for flavor in OptimizerFlavor.allCases {
            for className in classes where supported(className, flavor) {
                var straight = try Optimizer(className: className, config: [:], flavor: flavor)
                var w = OptimizerFixture.weights
                for g in OptimizerFixture.gradients.prefix(2) { try straight.step(weights: &w, gradients: g) }
                let written = OptimizerLayout.write(straight.savedState(), variables: variables.map(\.name))
                let read = try OptimizerLayout.read(written, optimizerClass: className, variables: variables)
                var resumed = try Optimizer(className: className, config: [:], flavor: flavor)
                try resumed.restore(read, shapes: w.map(\.shape))
                var w2 = w
                try straight.step(weights: &w, gradients: OptimizerFixture.gradients[2])
                try resumed.step(weights: &w2, gradients: OptimizerFixture.gradients[2])
                XCTAssertEqual(w, w2, "\(className) \(flavor)")
                XCTAssertEqual(straight.slots, resumed.slots, "\(className) \(flavor)")
                XCTAssertEqual(resumed.iterations, 3)
                if let a = straight.rule as? Nadam, let b = resumed.rule as? Nadam {
                    XCTAssertEqual(a.product.bitPattern, b.product.bitPattern)
                }
            }
        }
    }

    /// tf.keras 2.11+ interleaves the slots of one build group per variable.
    func testTFKerasNames() throws {
        var opt = try Optimizer(className: "Adadelta", config: [:], flavor: .tfKeras)
        var w = OptimizerFixture.weights
        try opt.step(weights: &w, gradients: OptimizerFixture.gradients[0])
        XCTAssertEqual(OptimizerLayout.write(opt.savedState(), variables: ["w:0", "b:0"]).map(\.name), [
            "iteration:0", "Adadelta/accumulated_grad/w:0", "Adadelta/accumulated_delta_var/w:0",
            "Adadelta/accumulated_grad/b:0", "Adadelta/accumulated_delta_var/b:0",
        ])
        opt = try Optimizer(className: "Adamax", config: [:], flavor: .tfKeras)
        try opt.step(weights: &w, gradients: OptimizerFixture.gradients[0])
        XCTAssertEqual(OptimizerLayout.write(opt.savedState(), variables: ["w:0", "b:0"]).map(\.name),
                       ["iteration:0", "Adamax/m/w:0", "Adamax/u/w:0", "Adamax/m/b:0", "Adamax/u/b:0"])
    }

    /// Keras 3's names, as real Keras 3.15 listed them (OptimizerReference), read into the
    /// same slots as tf-keras's names for the same optimizer.
    func testKeras3NamesReadAsTFKerasSlots() throws {
        for c in OptimizerReference.cases where c.key.hasSuffix("/k3") {
            let arrays = c.variables.map { name, values -> NamedArray in
                if name.hasSuffix("/iteration") { return NamedArray(name: name, values: NumericArray(shape: [], int64s: [3])) }
                let shape = values.count == 1 && !name.hasSuffix("_accumulator") ? [] : [values.count]
                return NamedArray(name: name, values: NumericArray(Tensor(shape: shape, data: values.map(Float.init))))
            }
            let state = try OptimizerLayout.read(arrays, optimizerClass: c.className, variables: variables)
            XCTAssertEqual(state.iterations, 3, c.key)
            if c.className == "SGD" {
                XCTAssertEqual(state.slots.count, 0, "Keras 3's SGD keeps no momentum slot at momentum 0")
                continue
            }
            let tfk = OptimizerReference.cases.first { $0.key == c.key.replacingOccurrences(of: "/k3", with: "/tfk") }!
            let expected = Set(tfk.variables.map(\.0).compactMap { $0.split(separator: "/").count == 3 ? String($0.split(separator: "/")[1]) : nil })
            XCTAssertEqual(Set(state.slots.keys), expected, c.key)
        }
    }

    /// Keras 2.2's unnamed layout: Adamax and Nadam `[iterations] + ms + second slots`;
    /// Adagrad and Adadelta without iterations.
    func testKeras22UnnamedOrder() throws {
        let a = NumericArray(Tensor(shape: [4], data: [1, 2, 3, 4])), b = NumericArray(Tensor(shape: [2], data: [5, 6]))
        let c = NumericArray(Tensor(shape: [4], data: [7, 8, 9, 10])), d = NumericArray(Tensor(shape: [2], data: [11, 12]))
        let unnamed = [a, b, c, d].enumerated().map { NamedArray(name: "training/X/Variable_\($0.offset):0", values: $0.element) }
        let iterations = NamedArray(name: "Adamax/iterations:0", values: NumericArray(shape: [], int64s: [7]))
        let adamax = try OptimizerLayout.read([iterations] + unnamed, optimizerClass: "Adamax", variables: variables)
        XCTAssertEqual(adamax.iterations, 7)
        XCTAssertEqual(adamax.slots["m"], [a, b])
        XCTAssertEqual(adamax.slots["u"], [c, d])
        let adadelta = try OptimizerLayout.read(unnamed, optimizerClass: "Adadelta", variables: variables)
        XCTAssertEqual(adadelta.iterations, 0)
        XCTAssertEqual(adadelta.slots["accumulated_grad"], [a, b])
        XCTAssertEqual(adadelta.slots["accumulated_delta_var"], [c, d])
        XCTAssertThrowsError(try OptimizerLayout.read(unnamed, optimizerClass: "Adagrad", variables: variables))
    }

    /// Adagrad's accumulators start at initial_accumulator_value (tf.keras, Keras 3) or zero (Keras 2.2).
    func testAdagradInitialAccumulator() throws {
        var opt = try Optimizer(className: "Adagrad", config: ["initial_accumulator_value": .double(0.5)], flavor: .keras3)
        opt.build(shapes: [[3]])
        XCTAssertEqual(opt.slots["accumulator"]?[0].data, [0.5, 0.5, 0.5])
        var old = try Optimizer(className: "Adagrad", config: [:], flavor: .keras22)
        old.build(shapes: [[2]])
        XCTAssertEqual(old.slots["accumulator"]?[0].data, [0, 0])
    }
}
