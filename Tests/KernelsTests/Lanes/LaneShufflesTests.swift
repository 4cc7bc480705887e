import CLaneShuffles
import XCTest

/// The C transposes between lanes (sixteen signals interleaved) and rows, against plain
/// indexing: counts below, at and across the 16-wide blocks, every number of valid lanes,
/// with and without bias.
final class LaneShufflesTests: XCTestCase {
    func testLanesToRowsAndBack() {
        for count in [0, 1, 15, 16, 17, 33, 48] {
            for valid in [1, 7, 16] {
                let stride = count + 3
                let lanes = (0..<(count * 16)).map { Float($0) * 0.5 - 100 }
                let bias = (0..<16).map { Float($0) * 10 }
                for withBias in [false, true] {
                    var rows = [Float](repeating: -1, count: 16 * stride)
                    relapse_lanes_to_rows(lanes, Int32(count), Int32(valid), withBias ? bias : nil, &rows, stride)
                    for l in 0..<16 {
                        for j in 0..<stride {
                            let want: Float = l < valid && j < count ? lanes[j * 16 + l] + (withBias ? bias[l] : 0) : -1
                            XCTAssertEqual(rows[l * stride + j], want, "count \(count) valid \(valid) lane \(l) j \(j)")
                        }
                    }
                }
                let rows = (0..<(16 * stride)).map { Float($0) + 0.25 }
                var back = [Float](repeating: -1, count: count * 16 + 16)
                relapse_rows_to_lanes(rows, stride, Int32(count), Int32(valid), &back)
                for j in 0..<(count + 1) {
                    for l in 0..<16 {
                        let want: Float = j == count ? -1 : l < valid ? rows[l * stride + j] : 0
                        XCTAssertEqual(back[j * 16 + l], want, "count \(count) valid \(valid) lane \(l) j \(j)")
                    }
                }
            }
        }
    }
}
