import CLaneShuffles

/// Stride-1 3 x 3 convolution (ResNet's and VGG's layers) by Winograd's F(2 x 2, 3 x 3), after
/// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016); the formulas are
/// in `Winograd3x3Transforms`.
///
/// The output is cut into 2 x 2 tiles, each computed from a 4 x 4 input tile: 16 products per tile,
/// input channel and filter instead of the direct 36 (4/9). For each of the 16 transformed
/// components the sum over input channels is one GEMM, (tiles, channels) x (channels, filters), as
/// in the paper's section 5; transforms run on sixteen channels or filters at a time, one per SIMD
/// lane (channels padded with zeros to whole lanes).
///
/// - Forward: V = B^T d B per tile, U = G g G^T per channel and filter, M = V U per component,
///   Y = A^T M A.
/// - Kernel gradient: dU = V^T dM per component with dM = A dY A^T (the adjoint of the output
///   transform), then dg = G^T dU G.
/// - Input gradient: for stride 1 it is itself a 3 x 3 correlation, of the output gradient with the
///   kernel rotated by 180 degrees and its channel axes swapped, padded by 2 - pad: a second
///   `Winograd3x3Conv2DKernel` computes it as its forward.
///
/// Rounding: the input and output transforms only add and subtract and the kernel transform halves,
/// so the result is a direct sum's up to reassociation (bounded against Double by the tests).
/// Parallelism and determinism as in `Conv2DKernel`: one contiguous range of samples per worker,
/// chunks whose transformed tiles stay in the core's cache, single-threaded GEMMs, kernel-gradient
/// partials added in worker order; the forward has no sums across samples, so its output does not
/// depend on the worker count at all.
public final class Winograd3x3Conv2DKernel: Convolution2D {
    public let geometry: WindowGeometry
    public let filters: Int
    public let workers: Int
    /// Samples per chunk within one worker, from `maxScratchFloats`.
    public let samplesPerChunk: Int

    /// Output tiles along each axis and per sample.
    private let tilesH: Int, tilesW: Int, tiles: Int
    /// Channels rounded up to whole lanes, and their number of lane groups.
    private let paddedChannels: Int, channelGroups: Int
    /// The padded input grid: every tile's 4 x 4 window lies inside it.
    private var paddedHeight: Int { 2 * tilesH + 2 }
    private var paddedWidth: Int { 2 * tilesW + 2 }

    private let scratch: [Winograd3x3Scratch]
    private let transformedKernel = FloatScratch()
    private let rotatedKernel = FloatScratch()
    private var biasSums: [Double] = []
    /// The input gradient's correlation (built on first use: layers below which nothing trains
    /// never need it).
    private var inputGradientKernel: Winograd3x3Conv2DKernel?
    private let maxScratchFloats: Int

    /// Whether this algorithm computes `g`: stride 1, an undilated 3 x 3 kernel.
    public static func applies(_ g: WindowGeometry) -> Bool {
        g.isValid && g.strideH == 1 && g.strideW == 1 && g.kernelHeight == 3 && g.kernelWidth == 3 && !g.isDilated
    }

    /// Multiply-adds per sample and pass (the component GEMMs, channels padded to whole lanes).
    public static func multiplyAdds(_ g: WindowGeometry, filters: Int) -> Int {
        16 * ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2) * 16 * ((g.channels + 15) / 16) * filters
    }

    /// `maxScratchFloats`: a worker's transformed inputs and products per chunk (default 1 MB:
    /// they stay in the core's L2 cache between the transforms and the GEMMs).
    public init(geometry g: WindowGeometry, filters: Int, maxScratchFloats: Int = 1 << 18, workers: Int = kernelWorkers) {
        precondition(Self.applies(g), "F(2, 3) convolution needs stride 1 and a 3 x 3 kernel")
        geometry = g
        self.filters = filters
        self.workers = max(1, workers)
        self.maxScratchFloats = maxScratchFloats
        tilesH = (g.outHeight + 1) / 2
        tilesW = (g.outWidth + 1) / 2
        tiles = tilesH * tilesW
        channelGroups = (g.channels + 15) / 16
        paddedChannels = 16 * channelGroups
        samplesPerChunk = max(1, maxScratchFloats / (16 * tiles * (paddedChannels + filters)))
        scratch = (0..<self.workers).map { _ in Winograd3x3Scratch() }
    }

    // MARK: Forward

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>) {
        guard batch > 0 else { return }
        let u = transformKernel(kernel)
        let T = tiles, Cp = paddedChannels, O = filters
        forEachWorker(scratch, batch: batch) { ws, samples in
            let padded = ws.padded.reserve(channelGroups * paddedHeight * paddedWidth * 16)
            padded.update(repeating: 0, count: channelGroups * paddedHeight * paddedWidth * 16)
            for b0 in chunkStarts(samples, size: samplesPerChunk) {
                let nb = min(samplesPerChunk, samples.upperBound - b0)
                let v = ws.images.reserve(16 * nb * T * Cp), m = ws.products.reserve(16 * nb * T * O)
                for s in 0..<nb { transformInput(x, sample: b0 + s, padded: padded, into: v + s * T * 16 * Cp, componentStride: Cp) }
                for comp in 0..<16 {
                    gemm(m: nb * T, n: O, k: Cp, a: v + comp * Cp, lda: 16 * Cp, b: u + comp * Cp * O, ldb: O,
                         beta: 0, c: m + comp * O, ldc: 16 * O)
                }
                for s in 0..<nb {
                    combineOutputs(m + s * T * 16 * O, componentStride: O, bias: bias, sample: b0 + s, into: y)
                }
            }
        }
    }

    // MARK: Backward

    public func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?,
                         sameAsLastForward: Bool) {
        guard batch > 0 else { return }
        if let gradBias { addConvBiasGradient(geometry, filters: filters, dy, batch: batch, sums: &biasSums, into: gradBias) }
        if let gradInput {
            inputGradientConvolution().forward(input: dy, batch: batch, kernel: rotateKernel(kernel), bias: nil, output: gradInput)
        }
        let T = tiles, Cp = paddedChannels, O = filters
        forEachWorker(scratch, batch: batch) { ws, samples in
            let padded = ws.padded.reserve(channelGroups * paddedHeight * paddedWidth * 16)
            padded.update(repeating: 0, count: channelGroups * paddedHeight * paddedWidth * 16)
            let du = ws.gradKernels.reserve(16 * Cp * O)
            for b0 in chunkStarts(samples, size: samplesPerChunk) {
                let nb = min(samplesPerChunk, samples.upperBound - b0)
                let v = ws.images.reserve(16 * nb * T * Cp), dm = ws.products.reserve(16 * nb * T * O)
                for s in 0..<nb {
                    transformInput(x, sample: b0 + s, padded: padded, into: v + s * T * 16 * Cp, componentStride: Cp)
                    gradOutputComponents(dy, sample: b0 + s, into: dm + s * T * 16 * O, componentStride: O)
                }
                // dU (Cp, O) += V^T dM per component, from zero at this worker's first chunk.
                for comp in 0..<16 {
                    gemm(transA: true, m: Cp, n: O, k: nb * T, a: v + comp * Cp, lda: 16 * Cp,
                         b: dm + comp * O, ldb: 16 * O, beta: b0 == samples.lowerBound ? 0 : 1,
                         c: du + comp * Cp * O, ldc: O)
                }
            }
        }
        let du = sumOfWorkerPartials(workers: min(workers, batch), count: 16 * Cp * O) { scratch[$0].gradKernels.pointer }
        addKernelGradient(du, into: gradKernel)
    }

    /// The input gradient's correlation: over the output gradient (filters channels, the output's
    /// size), padded by 2 - pad so that its output is the input's size.
    private func inputGradientConvolution() -> Winograd3x3Conv2DKernel {
        if let inputGradientKernel { return inputGradientKernel }
        let g = geometry
        var t = WindowGeometry(layout: g.layout, channels: filters, inHeight: g.outHeight, inWidth: g.outWidth,
                               kernel: (3, 3), strides: (1, 1), same: false)
        t.padTop = 2 - g.padTop
        t.padLeft = 2 - g.padLeft
        t.outHeight = g.inHeight
        t.outWidth = g.inWidth
        let made = Winograd3x3Conv2DKernel(geometry: t, filters: g.channels, maxScratchFloats: maxScratchFloats, workers: workers)
        inputGradientKernel = made
        return made
    }

    /// The kernel rotated by 180 degrees with its channel axes swapped: (3, 3, filters, channels),
    /// `rotated[i][j][o][c] = kernel[2 - i][2 - j][c][o]`.
    private func rotateKernel(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let C = geometry.channels, O = filters
        let r = rotatedKernel.reserve(9 * C * O)
        for i in 0..<3 { for j in 0..<3 {
            let src = kernel + ((2 - i) * 3 + (2 - j)) * C * O, dst = r + (i * 3 + j) * O * C
            for c in 0..<C { for o in 0..<O { dst[o * C + c] = src[c * O + o] } }
        } }
        return UnsafePointer(r)
    }

    // MARK: Inputs

    /// Sample `n` as lane groups of its zero-padded image: `padded[((cb * Hp + h) * Wp + w) * 16 + l]`
    /// is channel 16 cb + l at image row h - padTop, column w - padLeft. Only the image's cells are
    /// written (whole lanes, zeros past the channels): the rest stays as the caller zeroed it.
    private func pad(_ x: UnsafePointer<Float>, sample n: Int, into padded: UnsafeMutablePointer<Float>) {
        let g = geometry, Hp = paddedHeight, Wp = paddedWidth, plane = g.inHeight * g.inWidth
        let image = x + n * g.inputCount
        let rows = min(g.inHeight, Hp - g.padTop), columns = min(g.inWidth, Wp - g.padLeft)
        for cb in 0..<channelGroups {
            let lanes = min(16, g.channels - cb * 16)
            for h in 0..<rows {
                let dst = padded + ((cb * Hp + h + g.padTop) * Wp + g.padLeft) * 16
                switch g.layout {
                case .nchw:
                    relapse_rows_to_lanes(image + cb * 16 * plane + h * g.inWidth, plane, Int32(columns), Int32(lanes), dst)
                case .nhwc:
                    let src = image + h * g.inWidth * g.channels + cb * 16
                    for w in 0..<columns { storeLanes(loadLanes(src + w * g.channels, count: lanes), dst + w * 16, count: 16) }
                }
            }
        }
    }

    /// Sample `n`'s 16 components per tile: `v[(16 t + comp) * componentStride + c]` for tile t
    /// (row-major over the tile grid), component comp = 4 a + b, componentStride = Cp (each
    /// component is a matrix of row stride 16 Cp for its GEMM; a tile's components are
    /// contiguous, so the transform writes one stream, not sixteen). A channels-last image with whole
    /// lanes of channels is read in place (its pixels are lanes already; zeros outside it); any
    /// other image goes through the zero-padded lane copy `padded`.
    private func transformInput(_ x: UnsafePointer<Float>, sample n: Int, padded: UnsafeMutablePointer<Float>,
                                into v: UnsafeMutablePointer<Float>, componentStride cs: Int) {
        let g = geometry, float = MemoryLayout<Float>.stride, lane = MemoryLayout<Lanes>.stride
        let inPlace = g.layout == .nhwc && g.channels % 16 == 0
        if !inPlace { pad(x, sample: n, into: padded) }
        let image = UnsafeRawPointer(x + n * g.inputCount), source = UnsafeRawPointer(padded)
        let H = g.inHeight, W = g.inWidth, C = g.channels, Hp = paddedHeight, Wp = paddedWidth, csBytes = cs * float
        for cb in 0..<channelGroups {
            /// The lanes of image pixel (h, w), zeros outside the image.
            @inline(__always) func pixel(_ h: Int, _ w: Int) -> Lanes {
                guard h >= 0, h < H, w >= 0, w < W else { return Lanes() }
                return image.loadUnaligned(fromByteOffset: ((h * W + w) * C + cb * 16) * float, as: Lanes.self)
            }
            for t1 in 0..<tilesH {
                let h0 = 2 * t1 - g.padTop
                for t2 in 0..<tilesW {
                    let w0 = 2 * t2 - g.padLeft
                    // B^T along each row of the 4 x 4 window (over its columns), then along the columns.
                    let r0: TileLanes, r1: TileLanes, r2: TileLanes, r3: TileLanes
                    if inPlace && h0 >= 0 && h0 + 4 <= H && w0 >= 0 && w0 + 4 <= W {
                        let corner = image + ((h0 * W + w0) * C + cb * 16) * float, column = C * float, rowBytes = W * column
                        r0 = f23InputRow(corner, column: column)
                        r1 = f23InputRow(corner + rowBytes, column: column)
                        r2 = f23InputRow(corner + 2 * rowBytes, column: column)
                        r3 = f23InputRow(corner + 3 * rowBytes, column: column)
                    } else if inPlace {
                        r0 = f23Input(pixel(h0, w0), pixel(h0, w0 + 1), pixel(h0, w0 + 2), pixel(h0, w0 + 3))
                        r1 = f23Input(pixel(h0 + 1, w0), pixel(h0 + 1, w0 + 1), pixel(h0 + 1, w0 + 2), pixel(h0 + 1, w0 + 3))
                        r2 = f23Input(pixel(h0 + 2, w0), pixel(h0 + 2, w0 + 1), pixel(h0 + 2, w0 + 2), pixel(h0 + 2, w0 + 3))
                        r3 = f23Input(pixel(h0 + 3, w0), pixel(h0 + 3, w0 + 1), pixel(h0 + 3, w0 + 2), pixel(h0 + 3, w0 + 3))
                    } else {
                        let corner = source + ((cb * Hp + 2 * t1) * Wp + 2 * t2) * lane, rowBytes = Wp * lane
                        r0 = f23InputRow(corner, column: lane)
                        r1 = f23InputRow(corner + rowBytes, column: lane)
                        r2 = f23InputRow(corner + 2 * rowBytes, column: lane)
                        r3 = f23InputRow(corner + 3 * rowBytes, column: lane)
                    }
                    let out = UnsafeMutableRawPointer(v + (t1 * tilesW + t2) * 16 * cs + cb * 16)
                    storeTile(f23Input(r0.v0, r1.v0, r2.v0, r3.v0), column: 0, out, componentBytes: csBytes)
                    storeTile(f23Input(r0.v1, r1.v1, r2.v1, r3.v1), column: 1, out, componentBytes: csBytes)
                    storeTile(f23Input(r0.v2, r1.v2, r2.v2, r3.v2), column: 2, out, componentBytes: csBytes)
                    storeTile(f23Input(r0.v3, r1.v3, r2.v3, r3.v3), column: 3, out, componentBytes: csBytes)
                }
            }
        }
    }

    // MARK: Outputs

    /// Sample `n`'s output from its 16 component products (`m[(16 t + comp) * componentStride + o]`)
    /// plus bias, sixteen filters at a time.
    private func combineOutputs(_ m: UnsafePointer<Float>, componentStride cs: Int, bias: UnsafePointer<Float>?,
                                sample n: Int, into y: UnsafeMutablePointer<Float>) {
        let g = geometry, O = filters
        // Whole lanes of filters in a channels-last output: plain vector loads and stores, tiles
        // inside the output here, those on an odd edge below.
        let wholeLanes = g.layout == .nhwc && O % 16 == 0
        if wholeLanes {
            combineWholeLanes(m, componentStride: cs, bias: bias, sample: n, into: y)
        }
        for t1 in 0..<tilesH {
            for t2 in 0..<tilesW {
                let r = m + (t1 * tilesW + t2) * 16 * cs
                let inside = 2 * t1 + 1 < g.outHeight && 2 * t2 + 1 < g.outWidth
                if wholeLanes && inside { continue }
                for o0 in stride(from: 0, to: O, by: 16) {
                    let count = min(16, O - o0)
                    // A^T along each component row (over b), then along the columns (over a).
                    let m0 = componentRow(r + o0, componentStride: cs, count: count)
                    let m1 = componentRow(r + 4 * cs + o0, componentStride: cs, count: count)
                    let m2 = componentRow(r + 8 * cs + o0, componentStride: cs, count: count)
                    let m3 = componentRow(r + 12 * cs + o0, componentStride: cs, count: count)
                    let q0 = f23Output(m0.v0, m0.v1, m0.v2, m0.v3), q1 = f23Output(m1.v0, m1.v1, m1.v2, m1.v3)
                    let q2 = f23Output(m2.v0, m2.v1, m2.v2, m2.v3), q3 = f23Output(m3.v0, m3.v1, m3.v2, m3.v3)
                    let left = f23Output(q0.0, q1.0, q2.0, q3.0), right = f23Output(q0.1, q1.1, q2.1, q3.1)
                    let b = bias.map { loadLanes($0 + o0, count: count) } ?? Lanes()
                    let h = 2 * t1, w = 2 * t2
                    if wholeLanes && inside {
                        let top = UnsafeMutableRawPointer(y + ((n * g.outHeight + h) * g.outWidth + w) * O + o0)
                        let rowBytes = g.outWidth * O * MemoryLayout<Float>.stride, next = O * MemoryLayout<Float>.stride
                        top.storeBytes(of: left.0 + b, as: Lanes.self)
                        (top + next).storeBytes(of: right.0 + b, as: Lanes.self)
                        (top + rowBytes).storeBytes(of: left.1 + b, as: Lanes.self)
                        (top + rowBytes + next).storeBytes(of: right.1 + b, as: Lanes.self)
                    } else {
                        store(left.0 + b, sample: n, row: h, column: w, filters: o0, count: count, into: y)
                        store(right.0 + b, sample: n, row: h, column: w + 1, filters: o0, count: count, into: y)
                        store(left.1 + b, sample: n, row: h + 1, column: w, filters: o0, count: count, into: y)
                        store(right.1 + b, sample: n, row: h + 1, column: w + 1, filters: o0, count: count, into: y)
                    }
                }
            }
        }
    }

    /// `combineOutputs` for the tiles inside a channels-last output with whole lanes of filters:
    /// straight-line vector code (the general path's lane counts and layout switches made the
    /// compiler keep its pointers on the stack).
    private func combineWholeLanes(_ m: UnsafePointer<Float>, componentStride cs: Int, bias: UnsafePointer<Float>?,
                                   sample n: Int, into y: UnsafeMutablePointer<Float>) {
        let g = geometry, O = filters, float = MemoryLayout<Float>.stride
        let cb = cs * float, rowBytes = g.outWidth * O * float, next = O * float
        let fullRows = g.outHeight / 2, fullColumns = g.outWidth / 2
        for t1 in 0..<fullRows {
            for t2 in 0..<fullColumns {
                let r = UnsafeRawPointer(m + (t1 * tilesW + t2) * 16 * cs)
                let top = UnsafeMutableRawPointer(y + ((n * g.outHeight + 2 * t1) * g.outWidth + 2 * t2) * O)
                for o0 in stride(from: 0, to: O, by: 16) {
                    let p = r + o0 * float
                    @inline(__always) func c(_ k: Int) -> Lanes { p.loadUnaligned(fromByteOffset: k * cb, as: Lanes.self) }
                    let q0 = f23Output(c(0), c(1), c(2), c(3)), q1 = f23Output(c(4), c(5), c(6), c(7))
                    let q2 = f23Output(c(8), c(9), c(10), c(11)), q3 = f23Output(c(12), c(13), c(14), c(15))
                    let left = f23Output(q0.0, q1.0, q2.0, q3.0), right = f23Output(q0.1, q1.1, q2.1, q3.1)
                    let b = bias.map { UnsafeRawPointer($0 + o0).loadUnaligned(as: Lanes.self) } ?? Lanes()
                    let out = top + o0 * float
                    out.storeBytes(of: left.0 + b, as: Lanes.self)
                    (out + next).storeBytes(of: right.0 + b, as: Lanes.self)
                    (out + rowBytes).storeBytes(of: left.1 + b, as: Lanes.self)
                    (out + rowBytes + next).storeBytes(of: right.1 + b, as: Lanes.self)
                }
            }
        }
    }

    /// Filters o0 ..< o0 + count of output (h, w), dropped past the output's edge (odd sizes).
    @inline(__always)
    private func store(_ value: Lanes, sample n: Int, row h: Int, column w: Int, filters o0: Int, count: Int,
                       into y: UnsafeMutablePointer<Float>) {
        let g = geometry, O = filters
        guard h < g.outHeight, w < g.outWidth else { return }
        switch g.layout {
        case .nhwc:
            storeLanes(value, y + ((n * g.outHeight + h) * g.outWidth + w) * O + o0, count: count)
        case .nchw:
            let base = y + ((n * O + o0) * g.outHeight + h) * g.outWidth + w, plane = g.outHeight * g.outWidth
            for l in 0..<count { base[l * plane] = value[l] }
        }
    }

    /// Filters o0 ..< o0 + count of output gradient (h, w); zeros past the output's edge.
    @inline(__always)
    private func load(_ dy: UnsafePointer<Float>, sample n: Int, row h: Int, column w: Int, filters o0: Int, count: Int) -> Lanes {
        let g = geometry, O = filters
        guard h < g.outHeight, w < g.outWidth else { return Lanes() }
        switch g.layout {
        case .nhwc:
            return loadLanes(dy + ((n * g.outHeight + h) * g.outWidth + w) * O + o0, count: count)
        case .nchw:
            let base = dy + ((n * O + o0) * g.outHeight + h) * g.outWidth + w, plane = g.outHeight * g.outWidth
            var v = Lanes()
            for l in 0..<count { v[l] = base[l * plane] }
            return v
        }
    }

    /// The adjoint of `combineOutputs`: sample `n`'s output gradient as 16 component matrices
    /// `dm[(16 t + comp) * componentStride + o]`, dM = A dY A^T per tile.
    private func gradOutputComponents(_ dy: UnsafePointer<Float>, sample n: Int, into dm: UnsafeMutablePointer<Float>,
                                      componentStride cs: Int) {
        let g = geometry, O = filters
        let wholeLanes = g.layout == .nhwc && O % 16 == 0
        let csBytes = cs * MemoryLayout<Float>.stride
        for t1 in 0..<tilesH {
            for t2 in 0..<tilesW {
                let r = dm + (t1 * tilesW + t2) * 16 * cs
                let h = 2 * t1, w = 2 * t2
                let inside = h + 1 < g.outHeight && w + 1 < g.outWidth
                for o0 in stride(from: 0, to: O, by: 16) {
                    let count = min(16, O - o0)
                    let d00: Lanes, d01: Lanes, d10: Lanes, d11: Lanes
                    if wholeLanes && inside {
                        let top = UnsafeRawPointer(dy + ((n * g.outHeight + h) * g.outWidth + w) * O + o0)
                        let rowBytes = g.outWidth * O * MemoryLayout<Float>.stride, next = O * MemoryLayout<Float>.stride
                        d00 = top.loadUnaligned(as: Lanes.self)
                        d01 = top.loadUnaligned(fromByteOffset: next, as: Lanes.self)
                        d10 = top.loadUnaligned(fromByteOffset: rowBytes, as: Lanes.self)
                        d11 = top.loadUnaligned(fromByteOffset: rowBytes + next, as: Lanes.self)
                    } else {
                        d00 = load(dy, sample: n, row: h, column: w, filters: o0, count: count)
                        d01 = load(dy, sample: n, row: h, column: w + 1, filters: o0, count: count)
                        d10 = load(dy, sample: n, row: h + 1, column: w, filters: o0, count: count)
                        d11 = load(dy, sample: n, row: h + 1, column: w + 1, filters: o0, count: count)
                    }
                    // A along each row (columns j -> b), then along the columns (rows i -> a).
                    let top = f23OutputAdjoint(d00, d01), bottom = f23OutputAdjoint(d10, d11)
                    let out = UnsafeMutableRawPointer(r + o0)
                    if count == 16 {
                        storeTile(f23OutputAdjoint(top.v0, bottom.v0), column: 0, out, componentBytes: csBytes)
                        storeTile(f23OutputAdjoint(top.v1, bottom.v1), column: 1, out, componentBytes: csBytes)
                        storeTile(f23OutputAdjoint(top.v2, bottom.v2), column: 2, out, componentBytes: csBytes)
                        storeTile(f23OutputAdjoint(top.v3, bottom.v3), column: 3, out, componentBytes: csBytes)
                    } else {
                        for b in 0..<4 {
                            let column = f23OutputAdjoint(top[b], bottom[b])
                            for a in 0..<4 { storeLanes(column[a], r + (4 * a + b) * cs + o0, count: count) }
                        }
                    }
                }
            }
        }
    }

    // MARK: Kernel

    /// The 16 component kernels, (Cp, filters) each: U = G g G^T per channel (zero rows for the
    /// padding channels), sixteen filters at a time.
    private func transformKernel(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let C = geometry.channels, Cp = paddedChannels, O = filters
        let u = transformedKernel.reserve(16 * Cp * O)
        u.update(repeating: 0, count: 16 * Cp * O)
        for c in 0..<C {
            for o0 in stride(from: 0, to: O, by: 16) {
                let count = min(16, O - o0)
                func tap(_ i: Int, _ j: Int) -> Lanes { loadLanes(kernel + ((i * 3 + j) * C + c) * O + o0, count: count) }
                // G along the columns of each tap row, then along the rows.
                let r0 = f23Kernel(tap(0, 0), tap(0, 1), tap(0, 2))
                let r1 = f23Kernel(tap(1, 0), tap(1, 1), tap(1, 2))
                let r2 = f23Kernel(tap(2, 0), tap(2, 1), tap(2, 2))
                for b in 0..<4 {
                    let column = f23Kernel(r0[b], r1[b], r2[b])
                    for a in 0..<4 { storeLanes(column[a], u + ((4 * a + b) * Cp + c) * O + o0, count: count) }
                }
            }
        }
        return UnsafePointer(u)
    }

    /// The adjoint of `transformKernel`, added into `gradKernel` (3, 3, channels, filters).
    private func addKernelGradient(_ du: UnsafePointer<Float>, into gradKernel: UnsafeMutablePointer<Float>) {
        let C = geometry.channels, Cp = paddedChannels, O = filters
        for c in 0..<C {
            for o0 in stride(from: 0, to: O, by: 16) {
                let count = min(16, O - o0)
                func component(_ a: Int, _ b: Int) -> Lanes { loadLanes(du + ((4 * a + b) * Cp + c) * O + o0, count: count) }
                // G^T along each component row (b -> j), then along the columns (a -> i).
                let h0 = f23KernelAdjoint(component(0, 0), component(0, 1), component(0, 2), component(0, 3))
                let h1 = f23KernelAdjoint(component(1, 0), component(1, 1), component(1, 2), component(1, 3))
                let h2 = f23KernelAdjoint(component(2, 0), component(2, 1), component(2, 2), component(2, 3))
                let h3 = f23KernelAdjoint(component(3, 0), component(3, 1), component(3, 2), component(3, 3))
                for j in 0..<3 {
                    let taps = f23KernelAdjoint(h0[j], h1[j], h2[j], h3[j])
                    for i in 0..<3 {
                        let at = gradKernel + ((i * 3 + j) * C + c) * O + o0
                        storeLanes(loadLanes(at, count: count) + taps[i], at, count: count)
                    }
                }
            }
        }
    }
}

/// B^T d for the four lanes at `p`, `column` bytes apart (one row of a tile's window).
@inline(__always)
private func f23InputRow(_ p: UnsafeRawPointer, column: Int) -> TileLanes {
    f23Input(p.loadUnaligned(as: Lanes.self), p.loadUnaligned(fromByteOffset: column, as: Lanes.self),
             p.loadUnaligned(fromByteOffset: 2 * column, as: Lanes.self), p.loadUnaligned(fromByteOffset: 3 * column, as: Lanes.self))
}

/// Components b = 0 ..< 4 of one component row, `count` lanes each, `componentStride` floats apart.
@inline(__always)
private func componentRow(_ p: UnsafePointer<Float>, componentStride cs: Int, count: Int) -> TileLanes {
    if count == 16 {
        let raw = UnsafeRawPointer(p), bytes = cs * MemoryLayout<Float>.stride
        return TileLanes(v0: raw.loadUnaligned(as: Lanes.self), v1: raw.loadUnaligned(fromByteOffset: bytes, as: Lanes.self),
                         v2: raw.loadUnaligned(fromByteOffset: 2 * bytes, as: Lanes.self),
                         v3: raw.loadUnaligned(fromByteOffset: 3 * bytes, as: Lanes.self))
    }
    return TileLanes(v0: loadLanes(p, count: count), v1: loadLanes(p + cs, count: count),
                     v2: loadLanes(p + 2 * cs, count: count), v3: loadLanes(p + 3 * cs, count: count))
}

/// Components (4 a + b) for a = 0 ..< 4 of one tile's column b, into `out` + comp * componentBytes.
@inline(__always)
private func storeTile(_ column: TileLanes, column b: Int, _ out: UnsafeMutableRawPointer, componentBytes: Int) {
    (out + b * componentBytes).storeBytes(of: column.v0, as: Lanes.self)
    (out + (4 + b) * componentBytes).storeBytes(of: column.v1, as: Lanes.self)
    (out + (8 + b) * componentBytes).storeBytes(of: column.v2, as: Lanes.self)
    (out + (12 + b) * componentBytes).storeBytes(of: column.v3, as: Lanes.self)
}

/// One worker's scratch for `Winograd3x3Conv2DKernel`.
final class Winograd3x3Scratch: @unchecked Sendable {
    let padded = FloatScratch()       // one sample, zero-padded, channels in lane groups
    let images = FloatScratch()       // 16 (tiles, channels) component matrices per chunk
    let products = FloatScratch()     // 16 (tiles, filters) products, or their gradients
    let gradKernels = FloatScratch()  // 16 (channels, filters) partial kernel gradients
}
