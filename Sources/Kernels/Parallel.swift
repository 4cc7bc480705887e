import CWorkerPool

@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}

/// Runs `body(i)` for every `i` in `0..<count`, spread over the cores when there is enough work
/// (`minimumWorkPerItem` is a rough count of values each item touches). Each index must write
/// only its own outputs, so the result never depends on scheduling.
@inlinable
public func parallelFor(_ count: Int, minimumWorkPerItem work: Int = .max, _ body: (Int) -> Void) {
    if count <= 1 || work < 4096 {
        for i in 0..<count { body(i) }
        return
    }
    runOnWorkers(count, body)
}

/// `body(i)` for every i on the caller and the kernel workers' helper threads (`CWorkerPool`:
/// they spin briefly between regions, where libdispatch's slept and joined each region late).
@usableFromInline
func runOnWorkers(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { escaping in
        var task = escaping
        withUnsafeMutablePointer(to: &task) { pointer in
            relapse_parallel_for(count, Int32(kernelWorkers - 1), pointer) { context, i in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(i)
            }
        }
    }
}
