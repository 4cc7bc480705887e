import XCTest
@testable import Kernels

final class TransposeTests: XCTestCase {
    func testTransposeOfEveryEdgeCase() {
        for (rows, columns) in [(1, 1), (8, 8), (16, 24), (9, 17), (64, 289), (289, 64), (3, 8), (8, 3)] {
            let src = (0..<(rows * columns)).map(Float.init)
            var dst = [Float](repeating: -1, count: src.count)
            transpose(src, rows: rows, columns: columns, into: &dst)
            for r in 0..<rows { for c in 0..<columns {
                XCTAssertEqual(dst[c * rows + r], src[r * columns + c], "\(rows) x \(columns) at (\(r), \(c))")
            } }
        }
    }
}
