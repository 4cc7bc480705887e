/// A buffer that grows on demand and is never shrunk or copied: scratch space one worker owns,
/// so the steady-state training loop allocates nothing and no copy-on-write can trigger.
final class Scratch<Element>: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int
    private let zero: Element

    init(_ count: Int, zero: Element) {
        self.zero = zero
        capacity = max(count, 1)
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: zero, count: capacity)
    }

    /// At least `count` elements; old contents are dropped when it grows.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: zero, count: count)
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}

typealias FloatScratch = Scratch<Float>

extension Scratch where Element == Float {
    convenience init(_ count: Int = 0) { self.init(count, zero: 0) }
}

/// How a batch is split over the workers: worker `w` of `count` takes a contiguous range of
/// samples fixed by the batch size and worker count only, so every sum (and so every result) is
/// the same from run to run for a given worker count.
func sampleRange(worker w: Int, of count: Int, batch: Int) -> Range<Int> {
    (w * batch / count)..<((w + 1) * batch / count)
}

/// Runs `body(scratch[w], samples)` in parallel for every worker that gets samples of `batch`:
/// one worker per scratch, each with its `sampleRange`.
func forEachWorker<Scratch>(_ scratch: [Scratch], batch: Int, _ body: (Scratch, Range<Int>) -> Void) {
    let n = min(scratch.count, batch)
    parallelFor(n) { w in body(scratch[w], sampleRange(worker: w, of: n, batch: batch)) }
}

/// The first sample of each chunk of at most `size` samples in `samples`.
func chunkStarts(_ samples: Range<Int>, size: Int) -> StrideTo<Int> {
    stride(from: samples.lowerBound, to: samples.upperBound, by: size)
}

/// The partial sums of workers 0..<n (`partial(w)`) added into worker 0's, in worker order (so
/// the result is fixed for a given worker count); pieces of the arrays in parallel.
func sumOfWorkerPartials(workers n: Int, count: Int, _ partial: (Int) -> UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
    let first = partial(0)
    guard n > 1 else { return UnsafePointer(first) }
    let piece = 1 << 14
    parallelFor((count + piece - 1) / piece, minimumWorkPerItem: piece * n) { p in
        let range = (p * piece)..<min(count, (p + 1) * piece)
        for w in 1..<n {
            addVectors(UnsafePointer(partial(w)) + range.lowerBound, into: first + range.lowerBound, count: range.count)
        }
    }
    return UnsafePointer(first)
}
