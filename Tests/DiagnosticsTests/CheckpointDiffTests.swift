import Diagnostics
import Foundation
import KerasFile
import Training
import XCTest

final class CheckpointDiffTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try RunFixtures.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func diff(_ a: String, _ b: String, _ thresholds: ExplosionThresholds = ExplosionThresholds()) throws -> CheckpointDiff {
        try CheckpointDiff(CheckpointTensors(path: a), CheckpointTensors(path: b), thresholds: thresholds)
    }

    func testHealthyPairOfARealRunIsOK() throws {
        try RunFixtures.train(3, into: directory)
        let result = try diff(directory + "/epoch-0001.h5", directory + "/epoch-0003.h5")
        XCTAssertEqual(result.verdict, .ok)
        XCTAssertEqual(result.verdict.exitStatus, 0)
        XCTAssertEqual(result.pairedBy, "name")
        XCTAssertTrue(result.rows.allSatisfy(\.flags.isEmpty))
        let weights = result.rows.filter { $0.slot == nil }
        XCTAssertEqual(weights.count, 4)
        XCTAssertEqual(Set(result.rows.compactMap(\.slot)), ["m", "v"])
        XCTAssertTrue(weights.allSatisfy { ($0.comparison.relativeChange ?? 0) > 0 }, "three epochs of Adam move every weight")
        XCTAssertTrue(weights.allSatisfy { $0.adamB != nil && $0.adamA != nil })
        XCTAssertEqual(result.optimizerB?.iterations, 9, "3 epochs of 192 training images in batches of 64")
    }

    func testNaNInOneKernelIsNamedFirst() throws {
        try RunFixtures.train(2, into: directory)
        let bad = directory + "/bad.h5"
        try RunFixtures.doctor(directory + "/epoch-0002.h5", to: bad, layer: "dense") { $0[5] = .nan }
        let result = try diff(directory + "/epoch-0001.h5", bad)
        XCTAssertEqual(result.verdict, .nan)
        XCTAssertEqual(result.verdict.exitStatus, 1)
        XCTAssertEqual(result.rows.first?.name, "dense/kernel:0")
        XCTAssertEqual(result.rows.first?.comparison.b?.nanCount, 1)
        XCTAssertEqual(result.rows.filter { $0.flags.contains(.nan) }.count, 1, "only the doctored tensor")
        XCTAssertTrue(result.text().contains("Verdict: nan: NaN/Inf first in dense/kernel:0"))
    }

    func testKernelTimes1e4IsAnExplosionNamedFirst() throws {
        try RunFixtures.train(2, into: directory)
        let bad = directory + "/bad.h5"
        try RunFixtures.doctor(directory + "/epoch-0002.h5", to: bad, layer: "conv2d") { w in w = w.map { $0 * 1e4 } }
        let result = try diff(directory + "/epoch-0001.h5", bad)
        XCTAssertEqual(result.verdict, .explosion)
        XCTAssertEqual(result.verdict.exitStatus, 1)
        let first = try XCTUnwrap(result.rows.first)
        XCTAssertEqual(first.name, "conv2d/kernel:0")
        XCTAssertEqual(try XCTUnwrap(first.comparison.normRatio), 1e4, accuracy: 1e4 * 0.01)
        XCTAssertEqual(result.rows.filter { $0.flags.contains(.explosion) }.map(\.name), ["conv2d/kernel:0"])
    }

    func testMaxAbsCatchesLargeValuesWithoutGrowth() throws {
        try RunFixtures.train(2, into: directory)
        let a = directory + "/epoch-0001.h5", b = directory + "/epoch-0002.h5"
        XCTAssertEqual(try diff(a, b).verdict, .ok)
        let largest = try XCTUnwrap(try diff(a, b).rows.compactMap { $0.slot == nil ? $0.comparison.b?.maxAbs : nil }.max())
        XCTAssertEqual(try diff(a, b, ExplosionThresholds(maxAbs: largest * 0.9)).verdict, .explosion)
        XCTAssertEqual(try diff(a, b, ExplosionThresholds(maxAbs: largest * 1.1)).verdict, .ok)
    }

    func testJSONHasVerdictAndTensorsAndIsStrictJSON() throws {
        try RunFixtures.train(2, into: directory)
        let bad = directory + "/bad.h5"
        try RunFixtures.doctor(directory + "/epoch-0002.h5", to: bad, layer: "conv2d") { $0 = $0.map { _ in .nan } }
        let text = try diff(directory + "/epoch-0001.h5", bad).json().serialized()
        // JSONSerialization rejects NaN/Infinity literals: every number here must be finite or null.
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(object["verdict"] as? String, "nan")
        let tensors = try XCTUnwrap(object["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.count, 4 * 3, "4 weights, each with m and v")
        XCTAssertEqual(tensors.first?["name"] as? String, "conv2d/kernel:0")
        XCTAssertEqual(tensors.first?["flags"] as? [String], ["nan"])
        for key in ["name", "layer", "kind", "a", "b", "max_abs_diff", "relative_change", "norm_ratio", "flags"] {
            XCTAssertNotNil(tensors.first?[key], key)
        }
        let weight = try XCTUnwrap(tensors.first { $0["name"] as? String == "dense/kernel:0" })
        let adam = try XCTUnwrap((weight["adam"] as? [String: Any])?["b"] as? [String: Any])
        XCTAssertNotNil(adam["max_update_ratio"] as? Double)
        XCTAssertEqual(Set(tensors.compactMap { $0["kind"] as? String }), ["weight", "optimizer_slot"])
    }

    /// Keras 2.2's file was written from tf-keras's trained values: read through their own
    /// layouts, every weight and every Adam slot must agree exactly.
    func testKeras22AndTFKerasLayoutsOfTheSameStateAreIdentical() throws {
        let result = try diff(RunFixtures.fixture("keras22-adam.h5"), RunFixtures.fixture("tfk-adam-trained.h5"))
        XCTAssertEqual(result.pairedBy, "position", "conv2d_1 vs conv2d")
        XCTAssertEqual(result.rows.count, 12)
        for row in result.rows {
            XCTAssertEqual(row.comparison.maxAbsDifference, 0, row.name)
        }
        XCTAssertEqual(result.verdict, .ok)
    }

    func testEveryKerasLayoutDiffsAgainstItself() throws {
        for name in ["keras22-adam.h5", "keras3-adam-trained.h5", "tfk-adam-trained.h5", "tfk-adam-amsgrad-trained.h5",
                     "tfk-rmsprop-trained.h5", "tfk-sgd-momentum-trained.h5", "tfk-weights-only.h5", "keras3-sequential.h5"] {
            let path = RunFixtures.fixture(name)
            let result = try diff(path, path)
            XCTAssertEqual(result.verdict, .ok, name)
            XCTAssertTrue(result.rows.allSatisfy { $0.comparison.maxAbsDifference == 0 }, name)
            let adamFile = name.contains("adam") || name.hasPrefix("keras3")
            XCTAssertEqual(result.rows.contains { $0.adamB != nil }, adamFile, name)
        }
        // Keras 3 against tf-keras: another run of the same architecture, other names.
        let across = try diff(RunFixtures.fixture("tfk-adam-trained.h5"), RunFixtures.fixture("keras3-adam-trained.h5"))
        XCTAssertEqual(across.pairedBy, "position")
        XCTAssertEqual(across.rows.first { $0.name == "conv2d/kernel:0" }?.nameB, "conv2d/kernel")
    }

    func testAnotherArchitectureIsFlaggedNotExplained() throws {
        let result = try diff(RunFixtures.fixture("broken-lines-start.h5"), RunFixtures.fixture("tfk-adam-trained.h5"))
        XCTAssertEqual(result.rows.first { $0.name == "conv2d/kernel:0" }?.flags, [.shapeChanged])
        XCTAssertEqual(result.rows.first { $0.name == "conv2d_1/kernel:0" }?.flags, [.missingInB])
    }

    func testUnreadableAndIncomparableFilesThrow() throws {
        let garbage = directory + "/garbage.h5"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: garbage))
        XCTAssertThrowsError(try CheckpointTensors(path: garbage))
        XCTAssertThrowsError(try CheckpointTensors(path: directory + "/missing.h5"))
        // A model without weights has nothing to compare with anything.
        XCTAssertThrowsError(try diff(RunFixtures.fixture("tfk-many-layers.h5"), RunFixtures.fixture("tfk-adam-trained.h5")))
    }
}
