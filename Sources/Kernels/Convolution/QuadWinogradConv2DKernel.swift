import CLaneShuffles

/// Stride-1 convolution whose output is one 2 x 2 tile (the seed's second layer: 64 -> 128
/// channels, 16 x 16 kernel on 17 x 17) by Winograd's F(2, 4) along both axes: four kernel taps
/// and their five inputs give two outputs in five products instead of eight, so the whole layer
/// takes 25/64 of the direct multiply-adds (the paired transform: 36/64).
///
/// Kernel taps are grouped in blocks of four (zero-padded), block (s, s') reading the 5 x 5
/// inputs at (4s, 4s'). In 1-D, with interpolation points 0, 1, -1, 2 and infinity, scaled so
/// that the input transform has integer coefficients:
///
///     input  V = (2x0 - x1 - 2x2 + x3, 2x1 + x2 - x3, -2x1 + 3x2 - x3, x3 - x1, 2x1 - x2 - 2x3 + x4)
///     kernel U = (w0/2, (w0+w1+w2+w3)/2, (w0-w1+w2-w3)/6, (w0+2w1+4w2+8w3)/6, w3)
///     output y0 = M0 + M1 + M2 + M3, y1 = M1 - M2 + 2 M3 + M4, M = sum over blocks of U * V
///
/// Along both axes that is 25 components; for each, the sum over blocks and input channels is
/// one GEMM (samples x blocks * channels) x (blocks * channels x filters). Rounding is larger
/// than the paired transform's (the point 2 and the divisions by 6): measured 2x, and bounded by
/// a test. Transforms run on sixteen channels at a time (one per SIMD lane); parallelism and
/// determinism as in `WinogradConv2DKernel`: one range of samples per worker, partial kernel
/// gradients added in worker order.
public final class QuadWinogradConv2DKernel: Convolution2D {
    public let geometry: WindowGeometry
    public let filters: Int
    public let workers: Int

    /// Blocks of four taps along each axis.
    private let blocksH: Int, blocksW: Int
    /// Channels rounded up to whole lanes, and their number of lane groups.
    private let paddedChannels: Int, channelGroups: Int
    /// GEMM depth of one component: blocks x padded channels, index (s, s', c).
    private let depth: Int
    private var paddedHeight: Int { 4 * blocksH + 1 }
    private var paddedWidth: Int { 4 * blocksW + 1 }

    private let scratch: [QuadScratch]
    private let transformedKernel = FloatScratch()
    private var biasSums: [Double] = []
    /// The last forward's transformed inputs (in the workers' scratch) and kernel.
    private var keptForward = KeptForward()

    /// Whether this algorithm applies: stride 1 and a 2 x 2 output.
    public static func applies(_ g: WindowGeometry) -> Bool {
        g.isValid && g.strideH == 1 && g.strideW == 1 && g.outHeight == 2 && g.outWidth == 2
    }

    /// Multiply-adds per sample and pass.
    public static func multiplyAdds(_ g: WindowGeometry, filters: Int) -> Int {
        25 * ((g.kernelHeight + 3) / 4) * ((g.kernelWidth + 3) / 4) * g.channels * filters
    }

    public init(geometry g: WindowGeometry, filters: Int, workers: Int = kernelWorkers) {
        precondition(Self.applies(g), "F(2, 4) convolution needs stride 1 and a 2 x 2 output")
        geometry = g
        self.filters = filters
        self.workers = max(1, workers)
        blocksH = (g.kernelHeight + 3) / 4
        blocksW = (g.kernelWidth + 3) / 4
        channelGroups = (g.channels + 15) / 16
        paddedChannels = 16 * channelGroups
        depth = blocksH * blocksW * paddedChannels
        scratch = (0..<self.workers).map { _ in QuadScratch() }
    }

    // MARK: Forward

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>) {
        guard batch > 0 else { return }
        let u = transformKernel(kernel)
        let K = depth, O = filters
        forEachWorker(scratch, batch: batch) { ws, samples in
            let nb = samples.count
            let v = ws.images.reserve(25 * nb * K), m = ws.products.reserve(25 * nb * O)
            for s in 0..<nb { transformInput(x, sample: samples.lowerBound + s, ws, into: v + s * K, componentStride: nb * K) }
            for comp in 0..<25 {
                gemm(m: nb, n: O, k: K, a: v + comp * nb * K, lda: K, b: u + comp * K * O, ldb: O, beta: 0,
                     c: m + comp * nb * O, ldc: O)
            }
            for s in 0..<nb { combineOutputs(m + s * O, componentStride: nb * O, bias: bias, ws, sample: samples.lowerBound + s, into: y) }
        }
        keptForward.remember(batch: batch)
    }

    // MARK: Backward

    public func backward(input x: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>, batch: Int,
                         kernel: UnsafePointer<Float>, gradKernel: UnsafeMutablePointer<Float>,
                         gradBias: UnsafeMutablePointer<Float>?, gradInput: UnsafeMutablePointer<Float>?,
                         sameAsLastForward: Bool) {
        guard batch > 0 else { return }
        if let gradBias { addConvBiasGradient(geometry, filters: filters, dy, batch: batch, sums: &biasSums, into: gradBias) }
        // The forward's transformed images and kernel, when the caller vouches for its input and
        // kernel; the images are overwritten below, by their gradients.
        let reuse = keptForward.take(batch: batch, callerVouches: sameAsLastForward)
        let u = gradInput == nil ? nil : reuse ? UnsafePointer(transformedKernel.pointer) : transformKernel(kernel)
        let K = depth, O = filters
        forEachWorker(scratch, batch: batch) { ws, samples in
            let nb = samples.count
            let v = ws.images.reserve(25 * nb * K), dm = ws.products.reserve(25 * nb * O)
            let du = ws.gradKernels.reserve(25 * K * O)
            for s in 0..<nb {
                if !reuse { transformInput(x, sample: samples.lowerBound + s, ws, into: v + s * K, componentStride: nb * K) }
                gradOutputComponents(dy, sample: samples.lowerBound + s, ws, into: dm + s * O, componentStride: nb * O)
            }
            for comp in 0..<25 {
                let vc = v + comp * nb * K, dmc = dm + comp * nb * O
                gemm(transA: true, m: K, n: O, k: nb, a: vc, lda: K, b: dmc, ldb: O, beta: 0, c: du + comp * K * O, ldc: O)
                guard let u else { continue }
                // The transformed images are spent: their gradient goes in their place.
                gemm(transB: true, m: nb, n: K, k: O, a: dmc, lda: O, b: u + comp * K * O, ldb: O, beta: 0, c: vc, ldc: K)
            }
            if let gradInput {
                for s in 0..<nb { inputGradient(v + s * K, componentStride: nb * K, ws, sample: samples.lowerBound + s, into: gradInput) }
            }
        }
        let n = min(workers, batch)
        let du = sumOfWorkerPartials(workers: n, count: 25 * K * O) { scratch[$0].gradKernels.pointer }
        addKernelGradient(du, into: gradKernel)
    }

    // MARK: Inputs

    /// Sample `n` as lane groups of its zero-padded image: `padded[((cb * Hp + h) * Wp + w) * 16 + l]`
    /// is channel 16 cb + l.
    private func pad(_ x: UnsafePointer<Float>, sample n: Int, into padded: UnsafeMutablePointer<Float>) {
        let g = geometry, Hp = paddedHeight, Wp = paddedWidth, plane = g.inHeight * g.inWidth
        // Zeros only where the image does not cover the grid (none for the seed's layer).
        if g.padTop > 0 || g.padLeft > 0 || g.inHeight < Hp || g.inWidth < Wp || g.channels < paddedChannels {
            padded.update(repeating: 0, count: channelGroups * Hp * Wp * 16)
        }
        let image = x + n * g.inputCount
        for cb in 0..<channelGroups {
            let lanes = min(16, g.channels - cb * 16)
            for h in 0..<g.inHeight {
                let dst = padded + ((cb * Hp + h + g.padTop) * Wp + g.padLeft) * 16
                switch g.layout {
                case .nchw:
                    relapse_rows_to_lanes(image + cb * 16 * plane + h * g.inWidth, plane, Int32(g.inWidth), Int32(lanes), dst)
                case .nhwc:
                    for w in 0..<g.inWidth {
                        for l in 0..<lanes { dst[w * 16 + l] = image[(h * g.inWidth + w) * g.channels + cb * 16 + l] }
                    }
                }
            }
        }
    }

    /// One sample's 25 component rows: `v[(a * 5 + b) * componentStride + (s * Qw + s') * Cp + c]`.
    private func transformInput(_ x: UnsafePointer<Float>, sample n: Int, _ ws: QuadScratch,
                                into v: UnsafeMutablePointer<Float>, componentStride cs: Int) {
        let Hp = paddedHeight, Wp = paddedWidth, Qh = blocksH, Qw = blocksW, Cp = paddedChannels
        let padded = ws.padded.reserve(channelGroups * Hp * Wp * 16)
        pad(x, sample: n, into: padded)
        // Along rows: rowT[((cb * Hp + h) * Qw + s') * 5 + b] (lanes).
        let rowT = ws.rows.reserve(channelGroups * Hp * Qw * 5 * 16)
        padded.withMemoryRebound(to: Lanes.self, capacity: channelGroups * Hp * Wp) { p in
            rowT.withMemoryRebound(to: Lanes.self, capacity: channelGroups * Hp * Qw * 5) { t in
                for row in 0..<(channelGroups * Hp) {
                    for s in 0..<Qw {
                        let src = p + row * Wp + 4 * s, dst = t + (row * Qw + s) * 5
                        quadInput(src[0], src[1], src[2], src[3], src[4], into: dst, stride: 1)
                    }
                }
                // Along columns, into the component rows.
                for cb in 0..<channelGroups {
                    for s in 0..<Qh {
                        for s2 in 0..<Qw {
                            for b in 0..<5 {
                                let at = { (h: Int) in t[((cb * Hp + 4 * s + h) * Qw + s2) * 5 + b] }
                                let out = UnsafeMutableRawPointer(v + b * cs + (s * Qw + s2) * Cp + cb * 16)
                                quadInputStore(at(0), at(1), at(2), at(3), at(4), into: out, stride: 5 * cs * 4)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `transformInput`: one sample's input gradient from its component rows.
    private func inputGradient(_ dv: UnsafePointer<Float>, componentStride cs: Int, _ ws: QuadScratch, sample n: Int,
                               into dx: UnsafeMutablePointer<Float>) {
        let g = geometry, Hp = paddedHeight, Wp = paddedWidth, Qh = blocksH, Qw = blocksW, Cp = paddedChannels
        let rowT = ws.rows.reserve(channelGroups * Hp * Qw * 5 * 16)
        let padded = ws.padded.reserve(channelGroups * Hp * Wp * 16)
        rowT.update(repeating: 0, count: channelGroups * Hp * Qw * 5 * 16)
        padded.update(repeating: 0, count: channelGroups * Hp * Wp * 16)
        rowT.withMemoryRebound(to: Lanes.self, capacity: channelGroups * Hp * Qw * 5) { t in
            for cb in 0..<channelGroups {
                for s in 0..<Qh {
                    for s2 in 0..<Qw {
                        for b in 0..<5 {
                            let src = UnsafeRawPointer(dv + b * cs + (s * Qw + s2) * Cp + cb * 16), step = 5 * cs * 4
                            let dst = t + ((cb * Hp + 4 * s) * Qw + s2) * 5 + b
                            quadInputAdjoint(src.loadUnaligned(as: Lanes.self),
                                             src.loadUnaligned(fromByteOffset: step, as: Lanes.self),
                                             src.loadUnaligned(fromByteOffset: 2 * step, as: Lanes.self),
                                             src.loadUnaligned(fromByteOffset: 3 * step, as: Lanes.self),
                                             src.loadUnaligned(fromByteOffset: 4 * step, as: Lanes.self),
                                             addingTo: dst, stride: Qw * 5)
                        }
                    }
                }
            }
            padded.withMemoryRebound(to: Lanes.self, capacity: channelGroups * Hp * Wp) { p in
                for row in 0..<(channelGroups * Hp) {
                    for s in 0..<Qw {
                        let src = t + (row * Qw + s) * 5
                        quadInputAdjoint(src[0], src[1], src[2], src[3], src[4], addingTo: p + row * Wp + 4 * s, stride: 1)
                    }
                }
            }
        }
        let plane = g.inHeight * g.inWidth, image = dx + n * g.inputCount
        for cb in 0..<channelGroups {
            let lanes = min(16, g.channels - cb * 16)
            for h in 0..<g.inHeight {
                let src = padded + ((cb * Hp + h + g.padTop) * Wp + g.padLeft) * 16
                switch g.layout {
                case .nchw:
                    relapse_lanes_to_rows(src, Int32(g.inWidth), Int32(lanes), nil, image + cb * 16 * plane + h * g.inWidth, plane)
                case .nhwc:
                    for w in 0..<g.inWidth {
                        for l in 0..<lanes { image[(h * g.inWidth + w) * g.channels + cb * 16 + l] = src[w * 16 + l] }
                    }
                }
            }
        }
    }

    // MARK: Outputs

    /// Sample `n`'s output (2 x 2 per filter) from its 25 component products plus bias.
    private func combineOutputs(_ m: UnsafePointer<Float>, componentStride cs: Int, bias: UnsafePointer<Float>?,
                                _ ws: QuadScratch, sample n: Int, into y: UnsafeMutablePointer<Float>) {
        let O = filters
        // half[(j * 5 + a) * O + o]: A applied along columns (to j), then along rows (to i).
        let half = ws.outputs.reserve(10 * O)
        for a in 0..<5 {
            let r = m + a * 5 * cs
            for o in 0..<O {
                let pair = quadOutputs(r[o], r[cs + o], r[2 * cs + o], r[3 * cs + o], r[4 * cs + o])
                half[a * O + o] = pair.0
                half[(5 + a) * O + o] = pair.1
            }
        }
        for j in 0..<2 {
            let h = half + j * 5 * O
            for o in 0..<O {
                let pair = quadOutputs(h[o], h[O + o], h[2 * O + o], h[3 * O + o], h[4 * O + o])
                let b = bias?[o] ?? 0
                storeOutput(pair.0 + b, sample: n, filter: o, row: 0, column: j, into: y)
                storeOutput(pair.1 + b, sample: n, filter: o, row: 1, column: j, into: y)
            }
        }
    }

    @inline(__always)
    private func storeOutput(_ value: Float, sample n: Int, filter o: Int, row i: Int, column j: Int,
                             into y: UnsafeMutablePointer<Float>) {
        switch geometry.layout {
        case .nchw: y[((n * filters + o) * 2 + i) * 2 + j] = value
        case .nhwc: y[((n * 2 + i) * 2 + j) * filters + o] = value
        }
    }

    /// The adjoint of `combineOutputs`: sample `n`'s output gradient as 25 component rows.
    private func gradOutputComponents(_ dy: UnsafePointer<Float>, sample n: Int, _ ws: QuadScratch,
                                      into dm: UnsafeMutablePointer<Float>, componentStride cs: Int) {
        let O = filters
        let half = ws.outputs.reserve(10 * O)
        for j in 0..<2 {
            let h = half + j * 5 * O
            for o in 0..<O {
                let d0: Float, d1: Float
                switch geometry.layout {
                case .nchw: d0 = dy[((n * O + o) * 2) * 2 + j]; d1 = dy[((n * O + o) * 2 + 1) * 2 + j]
                case .nhwc: d0 = dy[(n * 4 + j) * O + o]; d1 = dy[(n * 4 + 2 + j) * O + o]
                }
                quadOutputAdjoint(d0, d1, into: h + o, stride: O)
            }
        }
        for a in 0..<5 {
            for o in 0..<O {
                quadOutputAdjoint(half[a * O + o], half[(5 + a) * O + o], into: dm + a * 5 * cs + o, stride: cs)
            }
        }
    }

    // MARK: Kernel

    /// The 25 component kernels, (depth, filters) each: U = G w G^T per block and channel,
    /// sixteen filters at a time.
    private func transformKernel(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let g = geometry, K = depth, O = filters, C = g.channels, Qw = blocksW, Cp = paddedChannels
        let u = transformedKernel.reserve(25 * K * O)
        let kh = g.kernelHeight, kw = g.kernelWidth
        parallelFor(blocksH * Qw * Cp, minimumWorkPerItem: 400 * O) { item in
            let c = item % Cp, s2 = (item / Cp) % Qw, s = item / (Cp * Qw)
            let row = (s * Qw + s2) * Cp + c
            for o0 in stride(from: 0, to: O, by: 16) {
                let n = min(16, O - o0)
                func tap(_ t: Int, _ t2: Int) -> Lanes {
                    let h = 4 * s + t, w = 4 * s2 + t2
                    guard c < C, h < kh, w < kw else { return Lanes() }
                    return loadLanes(kernel + ((h * kw + w) * C + c) * O + o0, count: n)
                }
                // Along the columns of each tap row, then along rows.
                let r0 = quadKernelValues(tap(0, 0), tap(0, 1), tap(0, 2), tap(0, 3))
                let r1 = quadKernelValues(tap(1, 0), tap(1, 1), tap(1, 2), tap(1, 3))
                let r2 = quadKernelValues(tap(2, 0), tap(2, 1), tap(2, 2), tap(2, 3))
                let r3 = quadKernelValues(tap(3, 0), tap(3, 1), tap(3, 2), tap(3, 3))
                for b in 0..<5 {
                    let column = quadKernelValues(r0[b], r1[b], r2[b], r3[b])
                    for a in 0..<5 { storeLanes(column[a], u + (a * 5 + b) * K * O + row * O + o0, count: n) }
                }
            }
        }
        return UnsafePointer(u)
    }

    /// The adjoint of `transformKernel`, added into `gradKernel` (kh, kw, in, out).
    private func addKernelGradient(_ du: UnsafePointer<Float>, into gradKernel: UnsafeMutablePointer<Float>) {
        let g = geometry, K = depth, O = filters, C = g.channels, Qw = blocksW, Cp = paddedChannels
        let kh = g.kernelHeight, kw = g.kernelWidth
        parallelFor(blocksH * Qw * C, minimumWorkPerItem: 400 * O) { item in
            let c = item % C, s2 = (item / C) % Qw, s = item / (C * Qw)
            let row = (s * Qw + s2) * Cp + c
            for o0 in stride(from: 0, to: O, by: 16) {
                let n = min(16, O - o0)
                func component(_ a: Int, _ b: Int) -> Lanes { loadLanes(du + (a * 5 + b) * K * O + row * O + o0, count: n) }
                // G^T along rows (a -> t) for each column component b, then along columns.
                let b0 = quadKernelAdjoint(component(0, 0), component(1, 0), component(2, 0), component(3, 0), component(4, 0))
                let b1 = quadKernelAdjoint(component(0, 1), component(1, 1), component(2, 1), component(3, 1), component(4, 1))
                let b2 = quadKernelAdjoint(component(0, 2), component(1, 2), component(2, 2), component(3, 2), component(4, 2))
                let b3 = quadKernelAdjoint(component(0, 3), component(1, 3), component(2, 3), component(3, 3), component(4, 3))
                let b4 = quadKernelAdjoint(component(0, 4), component(1, 4), component(2, 4), component(3, 4), component(4, 4))
                for t in 0..<4 where 4 * s + t < kh {
                    let taps = quadKernelAdjoint(b0[t], b1[t], b2[t], b3[t], b4[t])
                    for t2 in 0..<4 where 4 * s2 + t2 < kw {
                        let at = gradKernel + (((4 * s + t) * kw + 4 * s2 + t2) * C + c) * O + o0
                        storeLanes(loadLanes(at, count: n) + taps[t2], at, count: n)
                    }
                }
            }
        }
    }
}

/// One worker's scratch for `QuadWinogradConv2DKernel`.
final class QuadScratch: @unchecked Sendable {
    let padded = FloatScratch()       // one sample, zero-padded, channels in lane groups
    let rows = FloatScratch()         // one sample transformed along rows
    let images = FloatScratch()       // 25 component rows per sample, component-major
    let products = FloatScratch()     // 25 (samples, filters) products or their gradients
    let outputs = FloatScratch()      // one sample's output half-combined
    let gradKernels = FloatScratch()  // 25 (depth, filters) partial kernel gradients
}
