import Kernels

/// The original question's data, made on demand: 32x32 single-channel images of one straight
/// line, "solid" (label [1, 0]) or "broken" (label [0, 1]: the same kind of line with 3 to 6
/// consecutive pixels removed from its middle half).
///
/// Each line joins two integer points on different borders of the image, at least
/// `minimumLength` pixels long, drawn with Bresenham's algorithm at value 1 on a 0 background.
/// Solid and broken lines come from the same distribution (the gap is drawn for both and
/// applied only to broken ones), so pixel counts overlap and only the gap tells them apart.
/// Exactly half the samples are broken (the odd one out, if any, is solid), in an order
/// shuffled by the seed.
///
/// Everything is integer arithmetic or float32 arithmetic on values from `SeededGenerator`, so
/// a (count, seed, noise) gives the same bytes on every platform; there is no trigonometry.
public struct SyntheticBrokenLines: Equatable, Sendable {
    public static let side = 32
    public static let minimumLength = 16
    public static let gapLengths = 3...6

    public var count: Int
    public var seed: UInt64
    /// Amplitude of optional uniform noise: background pixels become u, line pixels 1 - u, with
    /// u in [0, noise). 0, the default, gives clean images.
    public var noise: Float

    public init(count: Int, seed: UInt64 = 0, noise: Float = 0) {
        precondition(count >= 0, "a data set cannot hold \(count) samples")
        precondition(noise >= 0 && noise < 1, "noise must be in [0, 1)")
        self.count = count
        self.seed = seed
        self.noise = noise
    }

    public var sourceDescription: DataSourceDescription { .synthetic(count: count, seed: seed, noise: noise) }

    /// The whole set: x is (count, 1, 32, 32) or (count, 32, 32, 1); y is (count, 2).
    /// With one channel both layouts hold the same values in the same order; only the shape differs.
    public func makeDataset(layout: ImageLayout = .nchw) -> Dataset {
        let pixelsPerImage = Self.side * Self.side
        var x = [Float](repeating: 0, count: count * pixelsPerImage)
        var y = [Float](repeating: 0, count: count * 2)
        var generator = SeededGenerator(seed: seed)
        let lines = Self.drawLines(count: count, generator: &generator)
        for (i, line) in lines.enumerated() {
            let base = i * pixelsPerImage
            for (k, p) in line.pixels.enumerated() where !(line.isBroken && line.gap.contains(k)) {
                x[base + p.y * Self.side + p.x] = 1
            }
            if noise > 0 {
                for j in base..<(base + pixelsPerImage) {
                    let u = generator.nextUnitFloat() * noise
                    x[j] = x[j] == 1 ? 1 - u : u
                }
            }
            y[i * 2 + (line.isBroken ? 1 : 0)] = 1
        }
        return Dataset(
            x: Tensor(shape: [count] + layout.sampleShape(height: Self.side, width: Self.side), data: x),
            y: Tensor(shape: [count, 2], data: y),
            source: sourceDescription)
    }

    /// One sample's geometry: the line's pixels in order, and which of them a break removes.
    struct Line {
        var pixels: [(x: Int, y: Int)]
        var gap: Range<Int>
        var isBroken: Bool
    }

    /// The labels first (one shuffle), then each line's geometry, from one generator stream.
    /// Noise, when asked for, is drawn from the same stream after each line, so a noisy set has
    /// different lines from a clean one with the same seed.
    static func drawLines(count: Int, generator: inout SeededGenerator) -> [Line] {
        var broken = (0..<count).map { $0 >= (count + 1) / 2 }
        generator.shuffle(&broken)
        return broken.map { isBroken in
            let pixels = drawSegment(&generator)
            let length = pixels.count
            let gapLength = gapLengths.lowerBound + generator.nextIndex(below: gapLengths.count)
            let lowest = length / 4
            let highest = max(lowest, (3 * length) / 4 - gapLength)
            let start = lowest + generator.nextIndex(below: highest - lowest + 1)
            return Line(pixels: pixels, gap: start..<(start + gapLength), isBroken: isBroken)
        }
    }

    /// A segment between points on two different borders, redrawn until it is long enough.
    private static func drawSegment(_ generator: inout SeededGenerator) -> [(x: Int, y: Int)] {
        let last = side - 1
        func point(onBorder border: Int) -> (x: Int, y: Int) {
            let t = generator.nextIndex(below: side)
            switch border {
            case 0: return (t, 0)       // top
            case 1: return (t, last)    // bottom
            case 2: return (0, t)       // left
            default: return (last, t)   // right
            }
        }
        while true {
            let first = generator.nextIndex(below: 4)
            let second = (first + 1 + generator.nextIndex(below: 3)) % 4
            let a = point(onBorder: first), b = point(onBorder: second)
            if max(abs(a.x - b.x), abs(a.y - b.y)) + 1 >= minimumLength {
                return bresenhamLine(from: a, to: b)
            }
        }
    }
}
