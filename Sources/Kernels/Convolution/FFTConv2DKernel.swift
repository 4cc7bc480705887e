import CLaneShuffles

/// Stride-1 convolution by the convolution theorem: each image and each kernel go to the
/// frequency domain once, where correlating them is one complex product per frequency.
///
/// With the images zero-padded to a power-of-two grid (Nh, Nw) at least as large as the padded
/// input, no valid output wraps around, so circular and linear correlation agree:
/// forward  Y[n, o] = sum_c X[n, c] conj(W[c, o]),
/// kernel   dW[c, o] = sum_n X[n, c] conj(dY[n, o]),
/// input    dX[n, c] = sum_o dY[n, o] W[c, o].
/// For a large kernel on a large output with few input channels (the seed's first layer: 1 -> 64
/// channels, 16 x 16 on 32 x 32) this replaces 289 x 256 multiply-adds per output channel and
/// image with two 32 x 32 real FFTs and 544 complex products.
///
/// The transforms run on sixteen signals at once, one per SIMD lane (`RealFFT2D`): output
/// channels for outputs and their gradients, (sample, channel) pairs for inputs, input channels
/// for input gradients. Parallelism and determinism as in `Conv2DKernel`: one contiguous range of
/// samples per worker, kernel-gradient spectra added in worker order.
public final class FFTConv2DKernel: Convolution2D {
    public let geometry: WindowGeometry
    public let filters: Int
    public let workers: Int

    private let fft: RealFFT2D
    private let outBlocks: Int
    private let inBlocks: Int
    /// Samples whose input spectra are computed together: sixteen signals per transform.
    private let chunkSamples: Int
    private let scratch: [FFTScratch]
    /// Kernel spectra by (input channel, block of 16 output channels), lanes over outputs.
    private let kernelSpectra = LaneScratch()
    /// Kernel spectra by (output channel, block of 16 input channels), lanes over inputs.
    private let transposedKernelSpectra = LaneScratch()

    /// Whether the FFT costs less than `multiplyAddsElsewhere` (the cheapest other algorithm's
    /// multiply-adds per sample and pass), counting the transforms at 2.5 N log2 N operations per
    /// real N-point signal and the spectral products at 8 per complex multiply-add, each
    /// operation 2.5 times a GEMM's (conv-bench on the seed's first layer: the FFT's operations
    /// run at ~60 GFLOP/s, the Winograd GEMMs' at ~150).
    public static func savesWork(_ g: WindowGeometry, filters: Int, multiplyAddsElsewhere: Int) -> Bool {
        guard g.isValid, g.strideH == 1, g.strideW == 1 else { return false }
        let (nh, nw) = gridSize(g)
        let points = nh * nw, frequencies = nh * (nw / 2 + 1)
        let signals = g.channels + 16 * ((filters + 15) / 16)
        let operations = signals * points * (5 * points.trailingZeroBitCount) / 2 + 8 * frequencies * g.channels * filters
        return 5 * operations < 2 * 2 * multiplyAddsElsewhere
    }

    /// The power-of-two grid that holds the padded input.
    static func gridSize(_ g: WindowGeometry) -> (Int, Int) {
        func grid(_ n: Int) -> Int { max(4, 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount)) }
        return (grid(g.outHeight - 1 + g.kernelHeight), grid(g.outWidth - 1 + g.kernelWidth))
    }

    public init(geometry g: WindowGeometry, filters: Int, workers: Int = kernelWorkers) {
        precondition(g.isValid && g.strideH == 1 && g.strideW == 1, "FFT convolution needs stride 1")
        geometry = g
        self.filters = filters
        self.workers = max(1, workers)
        let (nh, nw) = Self.gridSize(g)
        fft = RealFFT2D(rows: nh, columns: nw)
        outBlocks = (filters + 15) / 16
        inBlocks = (g.channels + 15) / 16
        chunkSamples = max(1, 16 / g.channels)
        scratch = (0..<self.workers).map { _ in FFTScratch() }
    }

    private var frequencies: Int { fft.frequencies }
    private var scale: Float { 1 / Float(fft.rows * fft.columns) }

    // MARK: Forward

    public func forward(input x: UnsafePointer<Float>, batch: Int, kernel: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>) {
        guard batch > 0 else { return }
        let w = spectraByOutput(kernel)
        let F = frequencies, C = geometry.channels, K = fft.halfColumns
        forEachWorker(scratch, batch: batch) { ws, samples in
            let spectrum = ws.spectrum.reserve(2 * F), grid = ws.grid.reserve(fft.gridLanes)
            for b0 in chunkStarts(samples, size: chunkSamples) {
                let nb = min(chunkSamples, samples.upperBound - b0)
                let (xr, xi) = inputSpectra(x, samples: b0..<(b0 + nb), ws)
                for s in 0..<nb {
                    for ob in 0..<outBlocks {
                        let yr = spectrum, yi = spectrum + F
                        for r in 0..<fft.rows {
                            let at = fft.bitReversedRow(r) * K
                            for k in 0..<K {
                                let f = r * K + k
                                var ar = Lanes(), ai = Lanes()
                                for c in 0..<C {
                                    let sr = xr[(s * C + c) * F + f], si = xi[(s * C + c) * F + f]
                                    let group = w + (c * outBlocks + ob) * 2 * F
                                    let wr = group[f], wi = group[F + f]
                                    ar += sr * wr + si * wi
                                    ai += si * wr - sr * wi
                                }
                                yr[at + k] = ar; yi[at + k] = ai
                            }
                        }
                        fft.inverse(outputRows: geometry.outHeight, re: yr, im: yi, rowsBitReversed: true, output: grid)
                        storeOutput(grid, sample: b0 + s, block: ob, bias: bias, into: y)
                    }
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
        let wt = gradInput == nil ? nil : spectraByInput(kernel)
        let F = frequencies, C = geometry.channels, O = filters
        let groups = C * outBlocks
        let workersUsed = min(workers, batch)
        forEachWorker(scratch, batch: batch) { ws, samples in
            let fftScratch = ws.fft.reserve(fft.scratchLanes)
            let spectrum = ws.spectrum.reserve(2 * F), grid = ws.grid.reserve(fft.gridLanes)
            let dw = ws.gradKernel.reserve(groups * 2 * F)
            for i in 0..<(groups * 2 * F) { dw[i] = Lanes() }
            let dyPlanar = gradInput == nil ? nil : ws.gradOutputSpectra.reserve(2 * O * F)
            if ws.biasSums.count < 16 * outBlocks { ws.biasSums = Array(repeating: 0, count: 16 * outBlocks) }
            for o in 0..<ws.biasSums.count { ws.biasSums[o] = 0 }
            for b0 in chunkStarts(samples, size: chunkSamples) {
                let nb = min(chunkSamples, samples.upperBound - b0)
                let (xr, xi) = inputSpectra(x, samples: b0..<(b0 + nb), ws)
                for s in 0..<nb {
                    for ob in 0..<outBlocks {
                        let dr = spectrum, di = spectrum + F
                        loadGradOutput(dy, sample: b0 + s, block: ob, into: grid)
                        fft.forward(nonzeroRows: geometry.outHeight, input: grid, re: dr, im: di, scratch: fftScratch)
                        // The zero frequency is the sum over positions: the bias gradient.
                        withUnsafeBytes(of: dr[0]) { sums in
                            for l in 0..<16 { ws.biasSums[ob * 16 + l] += Double(sums.load(fromByteOffset: 4 * l, as: Float.self)) }
                        }
                        for c in 0..<C {
                            let group = dw + (c * outBlocks + ob) * 2 * F
                            let sx = (s * C + c) * F
                            for f in 0..<F {
                                let sr = xr[sx + f], si = xi[sx + f], gr = dr[f], gi = di[f]
                                group[f] += sr * gr + si * gi
                                group[F + f] += si * gr - sr * gi
                            }
                        }
                        if let dyPlanar { extractLanes(dr, di, block: ob, count: O, into: dyPlanar) }
                    }
                    if let gradInput, let wt, let dyPlanar {
                        inputGradient(dyPlanar, wt, sample: b0 + s, spectrum: spectrum, grid: grid, into: gradInput)
                    }
                }
            }
        }
        if let gradBias {
            for o in 0..<O {
                var total: Double = 0
                for w in 0..<workersUsed { total += scratch[w].biasSums[o] }
                gradBias[o] += Float(total)
            }
        }
        addKernelGradient(workers: workersUsed, into: gradKernel)
    }

    /// dX[n, c] = sum_o dY[n, o] W[c, o] for one sample, lanes over input channels, cropped to
    /// the unpadded input.
    private func inputGradient(_ dyPlanar: UnsafePointer<Float>, _ wt: UnsafePointer<Lanes>, sample n: Int,
                               spectrum: UnsafeMutablePointer<Lanes>, grid: UnsafeMutablePointer<Lanes>,
                               into dx: UnsafeMutablePointer<Float>) {
        let F = frequencies, O = filters, g = geometry, K = fft.halfColumns
        let dr = dyPlanar, di = dyPlanar + O * F
        for cb in 0..<inBlocks {
            let ar = spectrum, ai = spectrum + F
            for r in 0..<fft.rows {
                let at = fft.bitReversedRow(r) * K
                for k in 0..<K {
                    let f = r * K + k
                    var sr = Lanes(), si = Lanes()
                    for o in 0..<O {
                        let gr = dr[o * F + f], gi = di[o * F + f]
                        let group = wt + (o * inBlocks + cb) * 2 * F
                        let wr = group[f], wi = group[F + f]
                        sr += gr * wr - gi * wi
                        si += gr * wi + gi * wr
                    }
                    ar[at + k] = sr; ai[at + k] = si
                }
            }
            fft.inverse(outputRows: g.padTop + g.inHeight, re: ar, im: ai, rowsBitReversed: true, output: grid)
            grid.withMemoryRebound(to: Float.self, capacity: fft.gridLanes * 16) { grid in
                if g.layout == .nchw {
                    let plane = g.inHeight * g.inWidth
                    for h in 0..<g.inHeight {
                        relapse_lanes_to_rows(grid + ((h + g.padTop) * fft.columns + g.padLeft) * 16, Int32(g.inWidth),
                                              Int32(min(16, g.channels - cb * 16)), nil,
                                              dx + n * g.inputCount + cb * 16 * plane + h * g.inWidth, plane)
                    }
                    return
                }
                for l in 0..<min(16, g.channels - cb * 16) {
                    for h in 0..<g.inHeight {
                        var lane = grid + ((h + g.padTop) * fft.columns + g.padLeft) * 16 + l
                        var out = dx + n * g.inputCount + h * g.inWidth * g.channels + cb * 16 + l
                        for _ in 0..<g.inWidth { out.pointee = lane.pointee; out += g.channels; lane += 16 }
                    }
                }
            }
        }
    }

    /// The workers' kernel-gradient spectra added in worker order, back to (kh, kw, in, out),
    /// added into `gradKernel`.
    private func addKernelGradient(workers n: Int, into gradKernel: UnsafeMutablePointer<Float>) {
        let F = frequencies, C = geometry.channels, O = filters, g = geometry
        let groups = C * outBlocks
        let total = scratch[0].gradKernel.pointer
        for w in 1..<max(1, n) {
            let partial = scratch[w].gradKernel.pointer
            for i in 0..<(groups * 2 * F) { total[i] += partial[i] }
        }
        let scale = Lanes(repeating: self.scale)
        forEachGroup(groups) { ws, group in
            let c = group / outBlocks, ob = group % outBlocks
            let re = total + group * 2 * F, grid = ws.grid.reserve(fft.gridLanes)
            fft.inverse(outputRows: g.kernelHeight, re: re, im: re + F, rowsBitReversed: false, output: grid)
            let lanes = min(16, O - ob * 16)
            for u in 0..<g.kernelHeight {
                for v in 0..<g.kernelWidth {
                    let at = gradKernel + ((u * g.kernelWidth + v) * C + c) * O + ob * 16
                    storeLanes(loadLanes(at, count: lanes) + grid[u * fft.columns + v] * scale, at, count: lanes)
                }
            }
        }
    }

    // MARK: Spectra

    /// Spectra of the input channels of `samples`, (sample, channel)-major, real and imaginary
    /// parts planar.
    private func inputSpectra(_ x: UnsafePointer<Float>, samples: Range<Int>, _ ws: FFTScratch)
        -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        let F = frequencies, C = geometry.channels, g = geometry
        let signals = samples.count * C
        let planar = ws.inputSpectra.reserve(2 * signals * F)
        let spectrum = ws.spectrum.reserve(2 * F), grid = ws.grid.reserve(fft.gridLanes)
        let fftScratch = ws.fft.reserve(fft.scratchLanes)
        let rows = g.padTop + g.inHeight
        for s0 in stride(from: 0, to: signals, by: 16) {
            let lanes = min(16, signals - s0)
            for i in 0..<(rows * fft.columns) { grid[i] = Lanes() }
            grid.withMemoryRebound(to: Float.self, capacity: fft.gridLanes * 16) { grid in
                if g.layout == .nchw {
                    // Signal s is image s / C, channel s % C: one plane after another.
                    let plane = g.inHeight * g.inWidth
                    for h in 0..<g.inHeight {
                        relapse_rows_to_lanes(x + (samples.lowerBound * C + s0) * plane + h * g.inWidth, plane, Int32(g.inWidth),
                                              Int32(lanes), grid + ((h + g.padTop) * fft.columns + g.padLeft) * 16)
                    }
                    return
                }
                for l in 0..<lanes {
                    let n = samples.lowerBound + (s0 + l) / C, c = (s0 + l) % C
                    let image = x + n * g.inputCount
                    for h in 0..<g.inHeight {
                        var lane = grid + ((h + g.padTop) * fft.columns + g.padLeft) * 16 + l
                        var src = image + h * g.inWidth * g.channels + c
                        for _ in 0..<g.inWidth { lane.pointee = src.pointee; src += g.channels; lane += 16 }
                    }
                }
            }
            fft.forward(nonzeroRows: rows, input: grid, re: spectrum, im: spectrum + F, scratch: fftScratch)
            spectrum.withMemoryRebound(to: Float.self, capacity: 2 * F * 16) { lanesOf in
                relapse_lanes_to_rows(lanesOf, Int32(F), Int32(lanes), nil, planar + s0 * F, F)
                relapse_lanes_to_rows(lanesOf + F * 16, Int32(F), Int32(lanes), nil, planar + (signals + s0) * F, F)
            }
        }
        return (UnsafePointer(planar), UnsafePointer(planar + signals * F))
    }

    /// Kernel spectra (scaled for the inverse transform), lanes over output channels.
    private func spectraByOutput(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Lanes> {
        let F = frequencies, C = geometry.channels, O = filters, g = geometry
        let spectra = kernelSpectra.reserve(C * outBlocks * 2 * F)
        let scale = Lanes(repeating: self.scale)
        forEachGroup(C * outBlocks) { ws, group in
            let c = group / outBlocks, ob = group % outBlocks
            let lanes = min(16, O - ob * 16)
            let grid = ws.grid.reserve(fft.gridLanes)
            for u in 0..<g.kernelHeight {
                for v in 0..<fft.columns {
                    guard v < g.kernelWidth else { grid[u * fft.columns + v] = Lanes(); continue }
                    let at = kernel + ((u * g.kernelWidth + v) * C + c) * O + ob * 16
                    grid[u * fft.columns + v] = loadLanes(at, count: lanes) * scale
                }
            }
            let re = spectra + group * 2 * F
            fft.forward(nonzeroRows: g.kernelHeight, input: grid, re: re, im: re + F, scratch: ws.fft.reserve(fft.scratchLanes))
        }
        return UnsafePointer(spectra)
    }

    /// Kernel spectra (scaled for the inverse transform), lanes over input channels.
    private func spectraByInput(_ kernel: UnsafePointer<Float>) -> UnsafePointer<Lanes> {
        let F = frequencies, C = geometry.channels, O = filters, g = geometry
        let spectra = transposedKernelSpectra.reserve(O * inBlocks * 2 * F)
        let scale = self.scale
        forEachGroup(O * inBlocks) { ws, group in
            let o = group / inBlocks, cb = group % inBlocks
            let lanes = min(16, C - cb * 16)
            let grid = ws.grid.reserve(fft.gridLanes)
            for i in 0..<(g.kernelHeight * fft.columns) { grid[i] = Lanes() }
            grid.withMemoryRebound(to: Float.self, capacity: fft.gridLanes * 16) { grid in
                for u in 0..<g.kernelHeight {
                    for v in 0..<g.kernelWidth {
                        for l in 0..<lanes {
                            grid[(u * fft.columns + v) * 16 + l] = scale * kernel[((u * g.kernelWidth + v) * C + cb * 16 + l) * O + o]
                        }
                    }
                }
            }
            let re = spectra + group * 2 * F
            fft.forward(nonzeroRows: g.kernelHeight, input: grid, re: re, im: re + F, scratch: ws.fft.reserve(fft.scratchLanes))
        }
        return UnsafePointer(spectra)
    }

    // MARK: Moving lanes

    /// The output of sample `n`, channels of block `ob`, plus bias, from an inverse transform.
    private func storeOutput(_ grid: UnsafePointer<Lanes>, sample n: Int, block ob: Int,
                             bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let g = geometry, O = filters, P = g.positions, Wo = g.outWidth, Ho = g.outHeight
        let lanes = min(16, O - ob * 16)
        grid.withMemoryRebound(to: Float.self, capacity: fft.gridLanes * 16) { grid in
            switch g.layout {
            case .nchw:
                for i in 0..<Ho {
                    relapse_lanes_to_rows(grid + i * fft.columns * 16, Int32(Wo), Int32(lanes), bias.map { $0 + ob * 16 },
                                          y + (n * O + ob * 16) * P + i * Wo, P)
                }
            case .nhwc:
                for i in 0..<Ho {
                    for j in 0..<Wo {
                        let out = y + ((n * Ho + i) * Wo + j) * O + ob * 16, lane = grid + (i * fft.columns + j) * 16
                        for l in 0..<lanes { out[l] = lane[l] + (bias?[ob * 16 + l] ?? 0) }
                    }
                }
            }
        }
    }

    /// The output gradient of sample `n`, channels of block `ob`, as grid rows zero-extended to
    /// the grid's width.
    private func loadGradOutput(_ dy: UnsafePointer<Float>, sample n: Int, block ob: Int,
                                into grid: UnsafeMutablePointer<Lanes>) {
        let g = geometry, O = filters, P = g.positions, Wo = g.outWidth, Ho = g.outHeight
        let lanes = min(16, O - ob * 16)
        if g.layout == .nhwc && lanes < 16 {
            for i in 0..<(Ho * fft.columns) { grid[i] = Lanes() }
        }
        for i in 0..<Ho {
            for j in Wo..<fft.columns { grid[i * fft.columns + j] = Lanes() }
        }
        grid.withMemoryRebound(to: Float.self, capacity: fft.gridLanes * 16) { grid in
            switch g.layout {
            case .nchw:
                for i in 0..<Ho {
                    relapse_rows_to_lanes(dy + (n * O + ob * 16) * P + i * Wo, P, Int32(Wo), Int32(lanes), grid + i * fft.columns * 16)
                }
            case .nhwc:
                for i in 0..<Ho {
                    for j in 0..<Wo {
                        let src = dy + ((n * Ho + i) * Wo + j) * O + ob * 16, lane = grid + (i * fft.columns + j) * 16
                        for l in 0..<lanes { lane[l] = src[l] }
                    }
                }
            }
        }
    }

    /// Lanes of block `ob` of a spectrum into planar (channel, frequency) arrays.
    private func extractLanes(_ re: UnsafePointer<Lanes>, _ im: UnsafePointer<Lanes>, block ob: Int, count: Int,
                              into planar: UnsafeMutablePointer<Float>) {
        let F = frequencies
        let lanes = min(16, count - ob * 16)
        re.withMemoryRebound(to: Float.self, capacity: F * 16) { re in
            relapse_lanes_to_rows(re, Int32(F), Int32(lanes), nil, planar + ob * 16 * F, F)
        }
        im.withMemoryRebound(to: Float.self, capacity: F * 16) { im in
            relapse_lanes_to_rows(im, Int32(F), Int32(lanes), nil, planar + (count + ob * 16) * F, F)
        }
    }

    /// Runs `body(scratch, group)` for every group, the groups split over the workers as a batch is.
    private func forEachGroup(_ count: Int, _ body: (FFTScratch, Int) -> Void) {
        forEachWorker(scratch, batch: count) { ws, groups in
            for group in groups { body(ws, group) }
        }
    }
}

/// One worker's scratch for `FFTConv2DKernel`.
final class FFTScratch: @unchecked Sendable {
    let fft = LaneScratch()                // the transforms' own scratch
    let grid = LaneScratch()               // sixteen signals on the grid, before or after a transform
    let spectrum = LaneScratch()           // one half spectrum of sixteen signals
    let gradKernel = LaneScratch()         // partial kernel-gradient spectra
    let inputSpectra = FloatScratch()      // a chunk's input spectra, planar
    let gradOutputSpectra = FloatScratch() // one sample's output-gradient spectra, planar
    var biasSums: [Double] = []            // partial bias gradient, by output channel
}
