import XCTest
import Kernels
@testable import Training

final class SyntheticBrokenLinesTests: XCTestCase {
    func testSameSeedSameBytesDifferentSeedDifferentBytes() {
        let a = Dataset.synthetic(count: 64, seed: 7)
        XCTAssertEqual(a, Dataset.synthetic(count: 64, seed: 7))
        XCTAssertNotEqual(a.x.data, Dataset.synthetic(count: 64, seed: 8).x.data)
        XCTAssertNotEqual(a.x.data, Dataset.synthetic(count: 64).x.data)
        XCTAssertEqual(Dataset.synthetic(count: 5).source, .synthetic(count: 5, seed: 0, noise: 0))
    }

    func testShapesAndLayouts() {
        let first = Dataset.synthetic(count: 6, seed: 1)
        let last = Dataset.synthetic(count: 6, seed: 1, layout: .nhwc)
        XCTAssertEqual(first.x.shape, [6, 1, 32, 32])
        XCTAssertEqual(last.x.shape, [6, 32, 32, 1])
        XCTAssertEqual(first.y.shape, [6, 2])
        XCTAssertEqual(first.x.data, last.x.data, "one channel: the same values in the same order")
        XCTAssertEqual(first.y, last.y)
        XCTAssertEqual(Dataset.synthetic(count: 0).x.shape, [0, 1, 32, 32])
    }

    func testHalfSolidHalfBrokenShuffled() {
        for count in [1, 2, 7, 100] {
            let d = Dataset.synthetic(count: count, seed: 3)
            let broken = (0..<count).filter { d.y.data[$0 * 2 + 1] == 1 }
            XCTAssertEqual(broken.count, count / 2, "count \(count)")
            for i in 0..<count { XCTAssertEqual(d.y.data[i * 2] + d.y.data[i * 2 + 1], 1) }
            if count == 100 {
                XCTAssertNotEqual(broken, Array(50..<100), "shuffled, not sorted by class")
                XCTAssertNotEqual(broken, Array(stride(from: 1, to: 100, by: 2)), "shuffled, not alternating")
            }
        }
    }

    /// Solid lines are one 8-connected run of pixels; broken ones are exactly two, and the
    /// missing pixels are 3 to 6 consecutive ones from the middle half of the line.
    func testBrokenLinesHaveAGapAndSolidOnesDoNot() {
        let count = 400
        let d = Dataset.synthetic(count: count, seed: 11)
        var generator = SeededGenerator(seed: 11)
        let lines = SyntheticBrokenLines.drawLines(count: count, generator: &generator)
        for i in 0..<count {
            let image = Array(d.x.data[(i * 1024)..<((i + 1) * 1024)])
            XCTAssertTrue(image.allSatisfy { $0 == 0 || $0 == 1 })
            let isBroken = d.y.data[i * 2 + 1] == 1
            let line = lines[i]
            XCTAssertEqual(line.isBroken, isBroken)
            XCTAssertGreaterThanOrEqual(line.pixels.count, SyntheticBrokenLines.minimumLength)
            XCTAssertEqual(components(image), isBroken ? 2 : 1, "sample \(i)")
            let lit = Int(image.reduce(0, +))
            XCTAssertEqual(lit, line.pixels.count - (isBroken ? line.gap.count : 0), "sample \(i)")
            XCTAssertTrue(SyntheticBrokenLines.gapLengths.contains(line.gap.count))
            XCTAssertGreaterThanOrEqual(line.gap.lowerBound, line.pixels.count / 4)
            XCTAssertLessThanOrEqual(line.gap.upperBound, max(line.pixels.count / 4 + line.gap.count, (3 * line.pixels.count) / 4))
            for (k, p) in line.pixels.enumerated() {
                XCTAssertEqual(image[p.y * 32 + p.x], isBroken && line.gap.contains(k) ? 0 : 1)
            }
        }
    }

    /// The number of lit pixels alone must not give the class away.
    func testPixelCountsOfTheClassesOverlap() {
        let d = Dataset.synthetic(count: 200, seed: 5)
        var solid: [Int] = [], broken: [Int] = []
        for i in 0..<200 {
            let lit = Int(d.x.data[(i * 1024)..<((i + 1) * 1024)].reduce(0, +))
            if d.y.data[i * 2] == 1 { solid.append(lit) } else { broken.append(lit) }
        }
        XCTAssertLessThan(solid.min()!, broken.max()!)
        XCTAssertLessThan(broken.min()!, solid.max()!)
    }

    func testNoiseIsOptionalBoundedAndDeterministic() {
        let noisy = Dataset.synthetic(count: 4, seed: 2, noise: 0.1)
        XCTAssertEqual(noisy, Dataset.synthetic(count: 4, seed: 2, noise: 0.1))
        XCTAssertTrue(noisy.x.data.allSatisfy { ($0 >= 0 && $0 < 0.1) || ($0 > 0.9 && $0 <= 1) })
        XCTAssertGreaterThan(Set(noisy.x.data).count, 100)
        XCTAssertEqual(noisy.source, .synthetic(count: 4, seed: 2, noise: 0.1))
    }

    /// Literal values catch drift across platforms and Swift versions: the generator, the
    /// rasteriser, the shuffle and the hash must all stay exactly as they are.
    func testFingerprintsArePinned() {
        XCTAssertEqual(Dataset.synthetic(count: 16, seed: 0).fingerprint, "77e8684a86eb9bf0")
        XCTAssertEqual(Dataset.synthetic(count: 16, seed: 1).fingerprint, "64ba5a9c6828125d")
        XCTAssertEqual(Dataset.synthetic(count: 16, seed: 0, layout: .nhwc).fingerprint, "5079c9923085abf0")
        XCTAssertEqual(Dataset.synthetic(count: 16, seed: 0, noise: 0.05).fingerprint, "ab5affbf3901d055")
        XCTAssertEqual(Dataset.synthetic(count: 1000, seed: 0).fingerprint, "2417b94d19300f1c")
    }

    func testBresenhamEndpointsAndSteps() {
        for (a, b) in [((0, 0), (31, 31)), ((31, 0), (0, 17)), ((5, 31), (5, 0)), ((0, 3), (31, 9))] {
            let pixels = bresenhamLine(from: a, to: b)
            XCTAssertEqual(pixels.first!.x, a.0); XCTAssertEqual(pixels.first!.y, a.1)
            XCTAssertEqual(pixels.last!.x, b.0); XCTAssertEqual(pixels.last!.y, b.1)
            XCTAssertEqual(pixels.count, max(abs(a.0 - b.0), abs(a.1 - b.1)) + 1)
            for (p, q) in zip(pixels, pixels.dropFirst()) {
                XCTAssertLessThanOrEqual(max(abs(p.x - q.x), abs(p.y - q.y)), 1)
            }
        }
    }

    /// 8-connected components of the non-zero pixels of a 32x32 image.
    private func components(_ image: [Float]) -> Int {
        var seen = [Bool](repeating: false, count: 1024)
        var found = 0
        for start in 0..<1024 where image[start] != 0 && !seen[start] {
            found += 1
            var stack = [start]
            seen[start] = true
            while let p = stack.popLast() {
                let (r, c) = (p / 32, p % 32)
                for dr in -1...1 {
                    for dc in -1...1 {
                        let (nr, nc) = (r + dr, c + dc)
                        guard (0..<32).contains(nr), (0..<32).contains(nc) else { continue }
                        let q = nr * 32 + nc
                        if image[q] != 0 && !seen[q] { seen[q] = true; stack.append(q) }
                    }
                }
            }
        }
        return found
    }
}
