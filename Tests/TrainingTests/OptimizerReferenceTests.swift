import KerasFile
import Kernels
@testable import Training
import XCTest

/// Every optimizer and schedule against real tf-keras 2.21 and Keras 3.15 (OptimizerReference.swift,
/// made by tools/optimizer_reference.py): the optimizer is built from the config real Keras's
/// `get_config` wrote, so the test also proves that every key of it is read, and that Relapse
/// writes the same keys back in the same order.
final class OptimizerReferenceTests: XCTestCase {
    private func flavor(_ key: String) -> OptimizerFlavor { key.hasSuffix("/k3") ? .keras3 : .tfKeras }

    /// (slot kind, variable index) of a reference variable name; nil for non-slot variables.
    private func slot(_ name: String, _ className: String, _ flavor: OptimizerFlavor) -> (String, Int)? {
        if flavor == .tfKeras {
            let parts = name.split(separator: "/").map(String.init)
            guard parts.count == 3 else { return nil }
            return (parts[1], parts[2] == "w:0" ? 0 : 1)
        }
        guard let last = name.split(separator: "/").last.map(String.init), last.hasPrefix("w_") || last.hasPrefix("b_"),
              let (_, kind) = OptimizerLayout.keras3Suffixes(className).first(where: { last.hasSuffix($0.0) }) else { return nil }
        return (kind, last.hasPrefix("w_") ? 0 : 1)
    }

    func testEveryOptimizerMatchesRealKeras() throws {
        XCTAssertGreaterThan(OptimizerReference.cases.count, 30)
        for c in OptimizerReference.cases {
            let flavor = flavor(c.key)
            let json = try JSONValue.parse(c.config)
            if c.className == "Nadam" && flavor == .tfKeras {
                XCTAssertEqual(Optimizer.refusals(className: c.className, json: json, flavor: flavor).map(\.key), ["class_name"])
                continue
            }
            XCTAssertEqual(Optimizer.refusals(className: c.className, json: json, flavor: flavor), [], c.key)
            var opt = try Optimizer(className: c.className, json: json, flavor: flavor)
            let w = try OptimizerFixture.run(&opt)
            OptimizerFixture.assertClose(w[0], c.w, ulps: 8, c.key)
            OptimizerFixture.assertClose(w[1], c.b, ulps: 8, c.key)
            XCTAssertEqual(opt.iterations, 3)
            var compared = 0
            for (name, values) in c.variables {
                if c.className == "Nadam", name.hasSuffix("/variable") || name.contains("/variable_") {
                    let product = (opt.rule as? Nadam)?.product ?? .nan
                    XCTAssertEqual(Double(product), values[0], accuracy: 4 * Double(Float(values[0]).ulp), "u_product")
                    continue
                }
                guard let (kind, index) = slot(name, c.className, flavor) else { continue }
                OptimizerFixture.assertClose(opt.slots[kind]?[index], values, ulps: 8, "\(c.key) \(name)")
                compared += 1
            }
            XCTAssertEqual(compared, opt.slots.values.reduce(0) { $0 + $1.count }, "\(c.key): every slot compared")
            let written = opt.config()
            XCTAssertEqual(written.map(\.0), json.objectValue!.map(\.0), c.key)
            for (key, value) in written {
                XCTAssertTrue(value.sameNumberOrValue(json[key]!), "\(c.key) \(key): \(value.serialized()) vs \(json[key]!.serialized())")
            }
        }
    }

    func testSchedulesMatchRealKeras() throws {
        for (key, className, config, values) in OptimizerReference.schedules {
            let json = JSONValue.object([("class_name", .string(className)), ("config", try JSONValue.parse(config))])
            guard case .success(let schedule) = LearningRateSchedule.read(json, scope: "test") else {
                XCTFail("\(key) refused"); continue
            }
            for (step, expected) in zip(OptimizerReference.scheduleSteps, values) {
                // TensorFlow's float32 cos and pow differ from glibc's by a few ulps (CosineDecay with
                // warmup at step 8: 4 ulps, where 1 + cos cancels); 1e-6 relative covers them.
                XCTAssertEqual(Double(schedule.value(at: step)), expected, accuracy: 1e-6 * abs(expected),
                               "\(key) at step \(step)")
            }
        }
    }

    /// Keras 2.2.4's Adagrad, Adadelta, Adamax and Nadam at their defaults (lr 0.01, 1.0, 0.002,
    /// 0.002) against the numpy float32 emulation of keras/optimizers.py.
    func testKeras22AgainstEmulation() throws {
        let kinds = ["adagrad": ["accumulator"], "adadelta": ["accumulated_grad", "accumulated_delta_var"],
                     "adamax": ["m", "u"], "nadam": ["m", "v"]]
        for (name, expected) in OptimizerReference.keras22 {
            var opt = try Optimizer(className: name, config: [:], flavor: .keras22)
            let w = try OptimizerFixture.run(&opt)
            OptimizerFixture.assertClose(w[0], expected.w, ulps: 8, name)
            OptimizerFixture.assertClose(w[1], expected.b, ulps: 8, name)
            for (k, kind) in kinds[name]!.enumerated() {
                OptimizerFixture.assertClose(opt.slots[kind]?[0], expected.slots[2 * k], ulps: 8, "\(name) \(kind)")
                OptimizerFixture.assertClose(opt.slots[kind]?[1], expected.slots[2 * k + 1], ulps: 8, "\(name) \(kind)")
            }
        }
    }
}
