import KerasFile
import Kernels
import XCTest
@testable import Training

final class OptimizerConfigTests: XCTestCase {
    private func refusals(_ className: String, _ config: String, _ flavor: OptimizerFlavor) throws -> [ConfigRefusal] {
        Optimizer.refusals(className: className, json: try JSONValue.parse(config), flavor: flavor)
    }

    /// tf_keras.optimizers.Adam().get_config(), keys in order.
    func testTFKerasAdamConfig() throws {
        let config = Optimizer(Adam(), flavor: .tfKeras).config()
        XCTAssertEqual(config.map(\.0), ["name", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema",
                                         "ema_momentum", "ema_overwrite_frequency", "jit_compile", "is_legacy_optimizer",
                                         "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"])
        XCTAssertEqual(config.first { $0.0 == "learning_rate" }?.1, .double(0.0010000000474974513))
        XCTAssertEqual(config.first { $0.0 == "epsilon" }?.1, .double(1e-7))
    }

    /// keras.optimizers.Adam().get_config() in Keras 3.
    func testKeras3AdamConfig() {
        let config = Optimizer(Adam(), flavor: .keras3).config()
        XCTAssertEqual(config.map(\.0), ["name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
                                         "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                                         "gradient_accumulation_steps", "beta_1", "beta_2", "epsilon", "amsgrad"])
        XCTAssertEqual(config[0].1, .string("adam"))
    }

    /// Keras 2.2's Adam: lr, beta_1, beta_2, decay, epsilon, amsgrad; betas as float32 values.
    func testKeras22ConfigRoundTrip() throws {
        let input: [String: ConfigValue] = ["lr": .double(0.0010000000474974513), "beta_1": .double(0.8999999761581421),
                                            "beta_2": .double(0.9990000128746033), "decay": .double(0), "epsilon": .double(1e-7),
                                            "amsgrad": .bool(false)]
        let opt = try Optimizer(className: "Adam", config: input, flavor: .keras22)
        let out = opt.config()
        XCTAssertEqual(out.map(\.0), ["lr", "beta_1", "beta_2", "decay", "epsilon", "amsgrad"])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: out), input.mapValues(\.json))
    }

    /// Keras 2.2.4's Nadam config: lr, beta_1, beta_2, epsilon (null: K.epsilon()), schedule_decay.
    func testKeras22NadamConfig() throws {
        let opt = try Optimizer(className: "Nadam", json: try JSONValue.parse(
            #"{"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": null, "schedule_decay": 0.004}"#), flavor: .keras22)
        XCTAssertEqual(opt.config().map(\.0), ["lr", "beta_1", "beta_2", "epsilon", "schedule_decay"])
        XCTAssertEqual((opt.rule as? Nadam)?.epsilon, 1e-7)
    }

    func testRefusalsNameKeyAndValue() throws {
        let adam = try refusals("Adam", #"{"learning_rate": 0.01, "use_ema": true, "foo": 3, "bar": null, "decay": 0.01}"#, .tfKeras)
        XCTAssertEqual(Set(adam.map(\.description)), [
            "optimizer Adam: use_ema = true is not supported (the moving average of the weights is not implemented)",
            "optimizer Adam: decay = 0.01 is Keras 2.2's; tf-keras refuses it and Keras 3 ignores it (use a schedule)",
            "optimizer Adam: foo = 3 is not supported",
        ])
        XCTAssertEqual(Set(adam.map(\.key)), ["use_ema", "decay", "foo"], "null leftovers are Keras's 'not set'")
        XCTAssertEqual(try refusals("Ftrl", "{}", .tfKeras).map(\.key), ["class_name"])
        XCTAssertEqual(try refusals("Lion", "{}", .keras3).first?.value, .string("Lion"))
        XCTAssertEqual(try refusals("AdamW", "{}", .keras22).map(\.key), ["class_name"])
        XCTAssertEqual(try refusals("Nadam", "{}", .tfKeras).map(\.key), ["class_name"])
        XCTAssertEqual(try refusals("SGD", #"{"clipnorm": 1, "global_clipnorm": 1}"#, .tfKeras).map(\.key), ["global_clipnorm"])
        XCTAssertEqual(try refusals("SGD", #"{"clipnorm": 1, "clipvalue": 1}"#, .keras3).map(\.key), ["clipvalue"])
        XCTAssertEqual(try refusals("SGD", #"{"clipnorm": 1, "clipvalue": 1}"#, .tfKeras), [], "tf-keras ignores clipvalue beside clipnorm")
        XCTAssertEqual(try refusals("Adam", #"{"gradient_accumulation_steps": 2, "loss_scale_factor": 3.0}"#, .keras3).map(\.key),
                       ["loss_scale_factor", "gradient_accumulation_steps"])
        XCTAssertEqual(try refusals("Adam", #"{"is_legacy_optimizer": true}"#, .tfKeras).map(\.key), ["is_legacy_optimizer"])
        XCTAssertEqual(try refusals("Adam", #"{"lr": 0.1}"#, .tfKeras).map(\.key), ["lr"])
        XCTAssertEqual(try refusals("SGD", #"{"momentum": 5.0}"#, .tfKeras).map(\.key), ["momentum"])
        XCTAssertEqual(try refusals("Adam", #"{"adaptive_epsilon": true}"#, .keras3).map(\.key), ["adaptive_epsilon"])
        XCTAssertEqual(try refusals("RMSprop", #"{"lr": 0.1, "momentum": 0.9}"#, .keras22).map(\.key), ["momentum"])
        XCTAssertEqual(try refusals("AdamW", #"{"weight_decay": null}"#, .keras3).map(\.key), ["weight_decay"])
        XCTAssertEqual(try refusals("Adam", #"{"learning_rate": {"class_name": "PolynomialDecay", "config": {}}}"#, .tfKeras).map(\.description),
                       [#"optimizer Adam learning_rate: class_name = "PolynomialDecay" is not supported (Relapse implements ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, CosineDecay)"#])
        XCTAssertEqual(try refusals("Adam", #"{"learning_rate": {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 1, "decay_steps": 10, "decay_rate": 0.5, "cycle": true}}}"#, .tfKeras).map(\.key),
                       ["initial_learning_rate", "cycle"])
        XCTAssertEqual(try refusals("Adam", #"{"lr": {"class_name": "ExponentialDecay", "config": {}}}"#, .keras22).map(\.key), ["lr"])
    }

    /// Keys that cannot change the math pass and are written back as the file had them.
    func testInertKeysAreAcceptedAndKept() throws {
        let json = try JSONValue.parse(#"{"name": "opt", "learning_rate": 0.01, "jit_compile": true, "ema_momentum": 0.5, "is_legacy_optimizer": false}"#)
        let opt = try Optimizer(className: "adam", json: json, flavor: .tfKeras)
        XCTAssertEqual(opt.config().first { $0.0 == "jit_compile" }?.1, .bool(true))
        XCTAssertEqual(opt.config().first { $0.0 == "ema_momentum" }?.1, .double(0.5))
        XCTAssertEqual(opt.name, "opt")
        XCTAssertEqual(opt.className, "Adam")
    }

    /// A schedule is evaluated at iterations and written back as read.
    func testScheduleDrivesTheStepAndIsWrittenBack() throws {
        let schedule = #"{"module": "keras.optimizers.schedules", "class_name": "PiecewiseConstantDecay", "config": {"boundaries": [0], "values": [0.5, 0.25], "name": null}, "registered_name": null}"#
        var opt = try Optimizer(className: "SGD", json: try JSONValue.parse(#"{"learning_rate": \#(schedule)}"#), flavor: .keras3)
        var w = [Tensor(shape: [1], data: [0])]
        try opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [1])])
        try opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [1])])
        XCTAssertEqual(w[0].data, [-0.75])
        XCTAssertEqual(opt.config().first { $0.0 == "learning_rate" }?.1, try JSONValue.parse(schedule))
    }

    /// global_clipnorm with an infinite norm gives NaN, as tf.clip_by_global_norm does.
    func testGlobalClipnormOfInfiniteGradientIsNaN() throws {
        var opt = try Optimizer(className: "SGD", config: ["global_clipnorm": .double(1)], flavor: .tfKeras)
        var w = [Tensor(shape: [2], data: [0, 0])]
        try opt.step(weights: &w, gradients: [Tensor(shape: [2], data: [.infinity, 1])])
        XCTAssertTrue(w[0].data.allSatisfy(\.isNaN))
    }
}
