import ReferenceMath
import XCTest
@testable import Kernels

/// BatchNormalization's per-channel Double sums against plain running sums, for channels last
/// (inner 1) and channels first, channel counts around the eight Double lanes, and more rows
/// than one piece holds, channels last in blocks of sixteen, eight and one; bit-identical from run
/// to run.
final class ChannelSumsTests: XCTestCase {
    func testSumsMatchRunningSumsAndRepeatBitForBit() {
        for (outer, channels, inner) in [(5000, 16, 1), (300, 13, 1), (3000, 40, 1), (2000, 27, 1), (7, 3, 37), (40, 9, 1100), (1, 1, 1)] {
            let count = outer * channels * inner
            let x = randomValues(count, seed: 5).map(Float.init), dy = randomValues(count, seed: 6).map(Float.init)
            var mean = [Double](repeating: 0, count: channels), plain = mean, squares = mean, dySum = mean, product = mean
            for o in 0..<outer { for c in 0..<channels { for i in 0..<inner { plain[c] += Double(x[(o * channels + c) * inner + i]) } } }
            for c in 0..<channels { mean[c] = Double(Float(plain[c] / Double(outer * inner))) }
            for o in 0..<outer { for c in 0..<channels { for i in 0..<inner {
                let at = (o * channels + c) * inner + i, d = Double(x[at]) - mean[c]
                squares[c] += d * d
                dySum[c] += Double(dy[at])
                product[c] += Double(dy[at]) * d
            } } }
            let sums = ChannelSums(channels: channels, inner: inner)
            func run() -> [Double] {
                var s = [Double](repeating: .nan, count: channels), q = s, g = s, p = s
                sums.sum(x, outer: outer, into: &s)
                sums.centeredSquares(x, mean: mean, outer: outer, into: &q)
                sums.gradientSums(dy, x, mean: mean, outer: outer, into: &g, &p)
                return s + q + g + p
            }
            let got = run(), expected = plain + squares + dySum + product
            for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b)), "\(outer) x \(channels) x \(inner)") }
            XCTAssertEqual(run(), got, "second run")
        }
    }
}
