// Times the seed model's two convolutions and two common 3x3 ones (batch 256) with each
// algorithm that applies: forward, backward with or without the input gradient. Prints the
// median time of each and the rate in "direct GFLOP/s" (the im2col multiply-adds x 2 / time),
// so the algorithms compare directly.
//
//   swift run -c release conv-bench [repetitions [winograd scratch floats]] [--layer PREFIX] [--algorithm NAME] [--all] [--min]
// (--all: every algorithm that applies, even where it loses; --min: fastest run, not median)
import Foundation
import Kernels

let repetitions = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 7 : 7
let batch = 256
let scratchFloats = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) : nil

struct Layer { let name: String; let filters: Int; let inputGradient: Bool; let geometry: WindowGeometry }
let layers = [
    Layer(name: "conv1 1->64 16x16 on 32x32", filters: 64, inputGradient: false,
          geometry: WindowGeometry(layout: .nchw, channels: 1, inHeight: 32, inWidth: 32, kernel: (16, 16), strides: (1, 1), same: false)),
    Layer(name: "conv2 64->128 16x16 on 17x17", filters: 128, inputGradient: true,
          geometry: WindowGeometry(layout: .nchw, channels: 64, inHeight: 17, inWidth: 17, kernel: (16, 16), strides: (1, 1), same: false)),
    // Common small kernels (channels_last, same padding): im2col + GEMM.
    Layer(name: "3x3 32->32 on 32x32, stride 1", filters: 32, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 32, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)),
    Layer(name: "3x3 32->64 on 32x32, stride 2", filters: 64, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 32, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (2, 2), same: true)),
    // ResNet-20's 3x3 stride-1 layers (tools/resnet_bench.py; the bench trains batches of 128).
    Layer(name: "resnet 3x3 16->16 on 32x32", filters: 16, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 16, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)),
    Layer(name: "resnet 3x3 32->32 on 16x16", filters: 32, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 32, inHeight: 16, inWidth: 16, kernel: (3, 3), strides: (1, 1), same: true)),
    Layer(name: "resnet 3x3 64->64 on 8x8", filters: 64, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 64, inHeight: 8, inWidth: 8, kernel: (3, 3), strides: (1, 1), same: true)),
    // ResNet-20's first layer (RGB in: no input gradient), a strided 3x3 and a strided 1x1 projection.
    Layer(name: "resnet 3x3 3->16 on 32x32", filters: 16, inputGradient: false,
          geometry: WindowGeometry(layout: .nhwc, channels: 3, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)),
    Layer(name: "resnet 3x3 16->32 on 32x32, stride 2", filters: 32, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 16, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (2, 2), same: true)),
    Layer(name: "resnet 1x1 16->32 on 32x32, stride 2", filters: 32, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 16, inHeight: 32, inWidth: 32, kernel: (1, 1), strides: (2, 2), same: false)),
    // Pointwise (SeparableConv2D's second half, MobileNet-style 1x1): im2col is a plain copy here.
    Layer(name: "1x1 64->64 on 32x32", filters: 64, inputGradient: true,
          geometry: WindowGeometry(layout: .nhwc, channels: 64, inHeight: 32, inWidth: 32, kernel: (1, 1), strides: (1, 1), same: false)),
]

func median(_ f: () -> Void) -> Double {
    f()
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = DispatchTime.now().uptimeNanoseconds
        f()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return CommandLine.arguments.contains("--min") ? times.min()! : times.sorted()[times.count / 2]
}

func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in Float.random(in: -1...1, using: &g) }
}

print("batch \(batch), \(kernelWorkers) workers, median of \(repetitions)")
// `--layer PREFIX` times only the layers whose name starts with PREFIX.
let layerFilter = CommandLine.arguments.firstIndex(of: "--layer").map { CommandLine.arguments[$0 + 1] }
for layer in layers where layerFilter.map({ layer.name.hasPrefix($0) }) ?? true {
    let g = layer.geometry
    var algorithms: [(String, any Convolution2D)] = [("im2col", Conv2DKernel(geometry: g, filters: layer.filters))]
    if WinogradConv2DKernel.savesWork(g) {
        algorithms.append(("winograd", scratchFloats.map { WinogradConv2DKernel(geometry: g, filters: layer.filters, maxScratchFloats: $0) }
                                       ?? WinogradConv2DKernel(geometry: g, filters: layer.filters)))
    }
    let x = randomFloats(batch * g.inputCount, seed: 1)
    let k = randomFloats(g.patchSize * layer.filters, seed: 2)
    let b = randomFloats(layer.filters, seed: 3)
    let dy = randomFloats(batch * g.positions * layer.filters, seed: 4)
    let flop = 2.0 * Double(batch * g.positions * g.patchSize * layer.filters)
    if Winograd3x3Conv2DKernel.applies(g) {
        algorithms.append(("f(2,3)", scratchFloats.map { Winograd3x3Conv2DKernel(geometry: g, filters: layer.filters, maxScratchFloats: $0) }
                                     ?? Winograd3x3Conv2DKernel(geometry: g, filters: layer.filters)))
    }
    if QuadWinogradConv2DKernel.applies(g) {
        algorithms.append(("quad", QuadWinogradConv2DKernel(geometry: g, filters: layer.filters)))
    }
    if g.strideH == 1, g.strideW == 1, CommandLine.arguments.contains("--all")
        || makeConvolution2D(geometry: g, filters: layer.filters) is FFTConv2DKernel {
        algorithms.append(("fft", FFTConv2DKernel(geometry: g, filters: layer.filters)))
    }
    if let implementation = OneDNNConv2DKernel.compiledImplementation(g, filters: layer.filters) {
        algorithms.append(("onednn", OneDNNConv2DKernel(geometry: g, filters: layer.filters)))
        print("(oneDNN: \(implementation))")
    }
    if let implementation = OneDNNConv2DKernel.compiledImplementation(g, filters: layer.filters, algorithm: .winograd) {
        algorithms.append(("onednn-f43", OneDNNConv2DKernel(geometry: g, filters: layer.filters, algorithm: .winograd)))
        print("(oneDNN Winograd: \(implementation))")
    }
    print(layer.name)
    // `--algorithm NAME` times only that algorithm.
    let only = CommandLine.arguments.firstIndex(of: "--algorithm").map { CommandLine.arguments[$0 + 1] }
    for (name, conv) in algorithms where only.map({ $0 == name }) ?? true {
        var y = [Float](repeating: 0, count: dy.count)
        var dk = [Float](repeating: 0, count: k.count), db = [Float](repeating: 0, count: b.count)
        var dx = [Float](repeating: 0, count: x.count)
        let forward: Double = median { conv.forward(input: x, batch: batch, kernel: k, bias: b, output: &y) }
        let backward: Double = median {
            if layer.inputGradient {
                conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db, gradInput: &dx)
            } else {
                conv.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db, gradInput: nil)
            }
        }
        let passes = layer.inputGradient ? 2.0 : 1.0
        print(name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "forward %6.1f ms (%5.0f GFLOP/s)  backward %6.1f ms (%5.0f GFLOP/s)  step %6.1f ms",
                     forward * 1e3, flop / forward / 1e9, backward * 1e3, passes * flop / backward / 1e9,
                     (forward + backward) * 1e3))
    }
}

// DepthwiseConv2D: the dedicated direct kernel against a grouped convolution with one channel
// per group (im2col + GEMM per channel), 3x3 same on 64 channels of 32x32.
if layerFilter.map({ "depthwise".hasPrefix($0) || $0.hasPrefix("depthwise") }) ?? true {
    for layout in [ImageLayout.nhwc, .nchw] {
        let g = WindowGeometry(layout: layout, channels: 64, inHeight: 32, inWidth: 32, kernel: (3, 3), strides: (1, 1), same: true)
        let x = randomFloats(batch * g.inputCount, seed: 1), k = randomFloats(9 * 64, seed: 2), b = randomFloats(64, seed: 3)
        let dy = randomFloats(batch * g.positions * 64, seed: 4)
        var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
        var dk = [Float](repeating: 0, count: k.count), db = [Float](repeating: 0, count: 64)
        print("depthwise 3x3 64 channels on 32x32 \(layout == .nhwc ? "channels_last" : "channels_first")")
        let direct = DepthwiseConv2DKernel(geometry: g, multiplier: 1)
        let grouped = GroupedConvolution2D(geometry: g, filters: 64, groups: 64)
        let df: Double = median { direct.forward(input: x, batch: batch, kernel: k, bias: b, output: &y) }
        let db_: Double = median { direct.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db, gradInput: &dx) }
        let gf: Double = median { grouped.forward(input: x, batch: batch, kernel: k, bias: b, output: &y) }
        let gb: Double = median { grouped.backward(input: x, gradOutput: dy, batch: batch, kernel: k, gradKernel: &dk, gradBias: &db, gradInput: &dx) }
        print(String(format: "direct    forward %6.1f ms  backward %6.1f ms\ngrouped   forward %6.1f ms  backward %6.1f ms", df * 1e3, db_ * 1e3, gf * 1e3, gb * 1e3))
    }
}
