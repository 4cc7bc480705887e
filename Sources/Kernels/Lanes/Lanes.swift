/// Sixteen floats, one per independent signal (or channel): the FFTs and the F(2, 4) transforms
/// work on sixteen at once, lane by lane, so their arithmetic is plain vector code with no
/// shuffles (CLaneShuffles moves data between lanes and rows).
typealias Lanes = SIMD16<Float>

/// Lane storage that grows on demand, like `FloatScratch`, aligned for `Lanes`.
final class LaneScratch: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Lanes>
    private(set) var capacity: Int

    init(_ count: Int = 0) {
        capacity = max(count, 1)
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: Lanes(), count: capacity)
    }

    /// At least `count` lanes; old contents are dropped when it grows.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Lanes> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: Lanes(), count: count)
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}

/// `count` (<= 16) floats as lanes, zeros after them.
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>, count: Int) -> Lanes {
    if count == 16 { return UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
    var v = Lanes()
    withUnsafeMutableBytes(of: &v) { for l in 0..<count { $0.storeBytes(of: p[l], toByteOffset: 4 * l, as: Float.self) } }
    return v
}

/// The first `count` (<= 16) lanes of `v` into `p`.
@inline(__always)
func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self); return }
    withUnsafeBytes(of: v) { for l in 0..<count { p[l] = $0.load(fromByteOffset: 4 * l, as: Float.self) } }
}
