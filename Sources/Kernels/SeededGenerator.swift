/// xoshiro256** seeded through SplitMix64: fast, reproducible on every platform, and its whole
/// state is four integers, so a checkpoint can store it and a resume continue the same stream.
public struct SeededGenerator: RandomNumberGenerator, Equatable, Sendable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = [splitMix(), splitMix(), splitMix(), splitMix()]
    }

    /// Restores a generator from `state` as saved in a checkpoint.
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    /// A uniform float in [0, 1) from the top 24 bits, identical on every platform.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform integer in 0..<bound without modulo bias (Lemire's method, platform independent).
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fisher-Yates shuffle with this generator's own index draws, so the order is the same
    /// on every platform and Swift version (the standard library's `shuffle` promises neither).
    /// Inlinable so that callers get it specialised: unspecialised, every swap of a generic
    /// element allocated (two mallocs per sample per epoch).
    @inlinable
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextIndex(below: i + 1)
            array.swapAt(i, j)
        }
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
