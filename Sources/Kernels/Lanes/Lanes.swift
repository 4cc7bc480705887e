/// Sixteen floats, one per independent signal (or channel): the FFTs and the F(2, 4) transforms
/// work on sixteen at once, lane by lane, so their arithmetic is plain vector code with no
/// shuffles (CLaneShuffles moves data between lanes and rows).
typealias Lanes = SIMD16<Float>

/// Lane storage that grows on demand, aligned for `Lanes`.
typealias LaneScratch = Scratch<Lanes>

extension Scratch where Element == Lanes {
    convenience init(_ count: Int = 0) { self.init(count, zero: Lanes()) }
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
