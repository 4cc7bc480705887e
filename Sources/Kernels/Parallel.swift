import Dispatch

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
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(escaping)
        DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
    }
}
