import Foundation
import Kernels
@testable import Training
import XCTest

/// Every loss and option against real tf-keras and Keras 3 on TensorFlow
/// (LossKerasReferences.swift, made by tools/make_loss_references.py): per-sample losses, the
/// reduced value, and the gradient the network backprops.
final class LossKerasReferenceTests: XCTestCase {
    func evaluate(_ reference: KerasLossReference) throws -> LossEvaluation {
        let semantics = try XCTUnwrap(LossSemantics(rawValue: reference.semantics))
        let loss = try Loss(commandLine: reference.config)
        let shape = LossKerasReferences.shape
        let input = Tensor(shape: shape, data: reference.input)
        let labels = loss.takesClassIndices ? Tensor(shape: [shape[0], 1], data: reference.labels)
            : Tensor(shape: shape, data: reference.labels)
        switch reference.kind {
        case "softmax":
            return loss.evaluate(output: softmax(rows: input), logits: input, activation: .softmax, labels: labels, semantics: semantics)
        case "sigmoid":
            let output = Tensor(shape: shape, data: reference.input.map { 1 / (1 + exp(-$0)) })
            return loss.evaluate(output: output, logits: input, activation: .sigmoid, labels: labels, semantics: semantics)
        default:
            return loss.evaluate(output: input, activation: .linear, labels: labels, semantics: semantics)
        }
    }

    func testEveryLossMatchesKeras() throws {
        XCTAssertEqual(LossKerasReferences.cases.count, 86)
        for reference in LossKerasReferences.cases {
            let context = "\(reference.semantics) \(reference.name)"
            let e = try evaluate(reference)
            assertClose(e.perSample.data, reference.perSample, context + " per sample")
            assertClose([e.mean], [reference.value], context + " value")
            let gradient: Tensor
            switch (e.gradient, reference.kind) {
            case (.output(let g), "plain"), (.logits(let g), "softmax"), (.logits(let g), "sigmoid"): gradient = g
            default: XCTFail("\(context): gradient w.r.t. the wrong tensor"); continue
            }
            assertClose(gradient.data, reference.gradient, context + " gradient")
        }
    }

    /// Relative 2e-5 with an absolute floor of 2e-6: float32 Keras against Relapse's formulas.
    func assertClose(_ actual: [Float], _ expected: [Double], _ message: String, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, line: line)
        for (a, r) in zip(actual, expected) {
            XCTAssertEqual(Double(a), r, accuracy: max(2e-5 * abs(r), 2e-6), message, line: line)
        }
    }
}
