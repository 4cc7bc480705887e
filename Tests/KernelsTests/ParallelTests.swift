import Dispatch
import XCTest
@testable import Kernels

/// `parallelFor` on the worker pool: every index runs exactly once in every region, however many
/// regions follow each other; a region opened inside a task, or by a second thread while one
/// runs, runs on its caller alone and is just as complete.
final class ParallelTests: XCTestCase {
    func testEveryIndexRunsOnceInEachOfManyRegions() {
        for count in [2, 3, 17, 1000] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
            defer { hits.deallocate() }
            for _ in 0..<500 {
                hits.initialize(repeating: 0, count: count)
                parallelFor(count, minimumWorkPerItem: 1 << 20) { i in hits[i] += 1 }
                XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "\(count) indices")
            }
        }
    }

    /// A region with more indices right after one with fewer: a helper that read the old
    /// region's ticket and the new region's count must not claim an index (it did, in Stop 13's
    /// pool: the index ran twice and the region could return before it finished, which Swift
    /// reported as "non-escaping closure has escaped" about once in three ResNet-20 runs).
    func testGrowingRegionsEachRunEveryIndexOnce() {
        let small = 2, large = 48, rounds = 500_000
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: large)
        defer { hits.deallocate() }
        var wrong = 0
        for round in 0..<rounds {
            let count = round % 2 == 0 ? small : large
            hits.initialize(repeating: 0, count: count)
            parallelFor(count, minimumWorkPerItem: 1 << 20) { i in hits[i] += 1 }
            if !(0..<count).allSatisfy({ hits[$0] == 1 }) { wrong += 1 }
        }
        XCTAssertEqual(wrong, 0, "regions with an index run twice or not at all")
    }

    func testNestedRegionsRunInline() {
        let outer = 8, inner = 50
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: outer * inner)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: outer * inner)
        parallelFor(outer, minimumWorkPerItem: 1 << 20) { o in
            parallelFor(inner, minimumWorkPerItem: 1 << 20) { i in hits[o * inner + i] += 1 }
        }
        XCTAssertTrue((0..<(outer * inner)).allSatisfy { hits[$0] == 1 })
    }

    func testRegionsFromTwoThreadsAtOnce() {
        let count = 64, rounds = 300
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 2 * count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: 2 * count)
        let pointer = UncheckedSendable(hits)
        DispatchQueue.concurrentPerform(iterations: 2) { thread in
            for _ in 0..<rounds {
                parallelFor(count, minimumWorkPerItem: 1 << 20) { i in pointer.value[thread * count + i] += 1 }
            }
        }
        XCTAssertTrue((0..<(2 * count)).allSatisfy { hits[$0] == rounds })
    }
}
