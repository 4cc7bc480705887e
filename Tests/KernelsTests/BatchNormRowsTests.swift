import XCTest
@testable import Kernels

/// BatchNormalization's channels-last passes in vector lanes give each value the scalar
/// formula's float32 operations: the same bits, for channel counts below, at and past a lane
/// block, with and without the centered form, the ReLU and its gradient mask.
final class BatchNormRowsTests: XCTestCase {
    private func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in Float(sin(Double(i * 7 + seed) * 0.37) * 3) }
    }

    func testLanesMatchTheScalarFormulaBitForBit() {
        let rows = 5
        for C in [3, 8, 13, 16, 21] {
            let x = values(rows * C, seed: 1), dy = values(rows * C, seed: 2)
            let a = values(C, seed: 3), b = values(C, seed: 4), m = values(C, seed: 5)
            let k = values(C, seed: 6), u = values(C, seed: 7), v = values(C, seed: 8)
            for centered in [false, true] {
                func pre(_ i: Int) -> Float { let c = i % C; return (centered ? x[i] - m[c] : x[i]) * a[c] + b[c] }
                for relu in [false, true] {
                    var y = [Float](repeating: .nan, count: rows * C)
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in m.withUnsafeBufferPointer { mp in
                        let form = BatchNormAffine(scale: ap.baseAddress!, shift: bp.baseAddress!, center: centered ? mp.baseAddress! : nil)
                        BatchNormRows.normalize(x, &y, rows: 0..<rows, channels: C, form: form, relu: relu)
                    } } }
                    let expected = (0..<(rows * C)).map { relu ? max(pre($0), 0) : pre($0) }
                    XCTAssertEqual(y.map(\.bitPattern), expected.map(\.bitPattern), "normalize, \(C) channels, centered \(centered), relu \(relu)")
                    XCTAssertTrue(!relu || (y.contains(0) && y.contains { $0 > 0 }))

                    var dx = [Float](repeating: .nan, count: rows * C)
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in m.withUnsafeBufferPointer { mp in
                        let mask = BatchNormAffine(scale: ap.baseAddress!, shift: bp.baseAddress!, center: centered ? mp.baseAddress! : nil)
                        BatchNormRows.inputGradient(x, dy, &dx, rows: 0..<rows, channels: C, k: k, u: u, v: v, mean: mp.baseAddress!,
                                                    mask: relu ? mask : nil)
                    } } }
                    let expectedDx = (0..<(rows * C)).map { i -> Float in
                        let c = i % C, g = relu && !(pre(i) > 0) ? 0 : dy[i]
                        return k[c] * (g - u[c] - (x[i] - m[c]) * v[c])
                    }
                    XCTAssertEqual(dx.map(\.bitPattern), expectedDx.map(\.bitPattern), "input gradient, \(C) channels, centered \(centered), relu \(relu)")
                }
            }
        }
    }
}
