import XCTest
@testable import Training

final class OptimizerConfigTests: XCTestCase {
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
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: out), input)
    }

    func testRefusesWhatItCannotHonour() {
        XCTAssertThrowsError(try Optimizer(className: "Adagrad", config: [:], flavor: .tfKeras))
        XCTAssertThrowsError(try Optimizer(className: "Adam", config: ["decay": .double(0.01)], flavor: .tfKeras))
        XCTAssertThrowsError(try Optimizer(className: "Adam", config: ["use_ema": .bool(true)], flavor: .tfKeras))
        XCTAssertThrowsError(try Optimizer(className: "SGD", config: ["clipnorm": .double(1), "global_clipnorm": .double(1)], flavor: .tfKeras))
        XCTAssertThrowsError(try Optimizer(className: "Adam", config: ["gradient_accumulation_steps": .int(2)], flavor: .keras3))
        XCTAssertThrowsError(try Optimizer(className: "Adam", config: ["is_legacy_optimizer": .bool(true)], flavor: .tfKeras))
        XCTAssertNoThrow(try Optimizer(className: "adam", config: ["learning_rate": .double(0.01), "jit_compile": .bool(true)], flavor: .keras3))
    }
}
