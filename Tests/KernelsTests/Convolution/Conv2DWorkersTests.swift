import ReferenceMath
import XCTest
@testable import Kernels

/// The batch is split over workers: any worker count gives the same convolution (up to
/// summation order), and a given worker count gives bit-identical results every time.
final class Conv2DWorkersTests: XCTestCase {
    func testWorkerCountsAgreeAndEachIsDeterministic() {
        // Small chunks: several GEMMs per worker, so the per-worker accumulation is exercised.
        checkWorkerCountsAgree(Conv2DKernelTests.cases, batch: 7, workerCounts: [2, 3, 8]) { t, workers in   // 8 > batch
            let g = t.geometry
            return Conv2DKernel(geometry: g, filters: t.o, maxPatchFloats: 2 * workers * g.positions * g.patchSize, workers: workers)
        }
    }
}
