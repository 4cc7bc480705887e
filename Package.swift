// swift-tools-version:6.0
import PackageDescription

// Release builds on Linux compile the kernels for the CPU that builds them (Relapse is built
// from source where it runs): the FFT convolution's sixteen-lane arithmetic then runs in
// AVX-512 or AVX2 registers instead of four SSE halves, 1.4 to 2 times as fast here
// (docs/PERFORMANCE.md).
// RELAPSE_PORTABLE=1 builds kernels that run on any CPU of the architecture.
let kernelSettings: [SwiftSetting] = Context.environment["RELAPSE_PORTABLE"] == nil
    ? [.unsafeFlags(["-target-cpu", "native"], .when(platforms: [.linux], configuration: .release))]
    : []

let package = Package(
    name: "Relapse",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "relapse", targets: ["relapse"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C: interop shims with no public API of their own, and the vector shuffles Swift's
        // SIMD types do not express (CLaneShuffles).
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]),
        // libzip reads and writes `.keras` archives (chosen by measurement: docs/ARCHITECTURE.md).
        .systemLibrary(
            name: "CZip", pkgConfig: "libzip",
            providers: [.apt(["libzip-dev"]), .brew(["libzip"])]),
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"]), .brew(["onednn"])]),

        // Pure Swift layers, each over the one below it.
        // Signal-safe removal of the temporary files being written (C: a signal handler may
        // touch only plain memory).
        .target(name: "CCleanup"),
        // The resource policy: sizes checked for overflow and against a memory budget before
        // anything is allocated (docs/RELIABILITY.md, "Sizes").
        .target(name: "Budget"),
        // One byte-level search over whole files, optimised in debug builds too (CI's parity
        // scripts run the debug binary on 100 MB models).
        .target(name: "CByteScan", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "HDF5", dependencies: ["CHDF5", "CCleanup", "CByteScan", "Budget"]),
        .target(name: "KerasFile", dependencies: ["HDF5", "CCleanup", "CZip"]),
        .target(name: "CLaneShuffles"),
        // oneDNN's convolution primitives behind a plain C API (dnnl.h's fixed-size dimension
        // arrays, reorders and scratchpads are clumsy from Swift).
        .target(name: "CConvolutionPrimitives", linkerSettings: [.linkedLibrary("dnnl")]),
        // The kernels' worker threads (C11 atomics and pthreads: helpers that spin briefly
        // between a step's many short parallel regions).
        .target(name: "CWorkerPool", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("pthread")]),
        .target(name: "Kernels", dependencies: ["CDNNL", "CLaneShuffles", "CConvolutionPrimitives", "CWorkerPool", "Budget"], swiftSettings: kernelSettings),
        .target(name: "Network", dependencies: ["KerasFile", "Kernels", "Budget"]),
        .target(name: "Training", dependencies: ["Network", "KerasFile", "Kernels", "HDF5", "CCleanup", "Budget"]),
        .target(name: "Diagnostics", dependencies: ["KerasFile", "Network", "Training"]),
        .executableTarget(
            name: "relapse",
            dependencies: [
                "KerasFile", "Network", "Training", "Diagnostics", "CCleanup", "Budget",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Benchmarks: commands that print timings; nothing gates on them.
        .executableTarget(name: "conv-bench", dependencies: ["Kernels"], path: "Benchmarks/ConvBench"),
        // The libFuzzer target over the readers (docs/RELIABILITY.md, "Fuzzing"); built plainly
        // it replays files given as arguments.
        .executableTarget(name: "relapse-fuzz", dependencies: ["KerasFile", "Network", "Training", "Diagnostics", "Budget"],
                          path: "Fuzz/ReaderFuzz"),
        .executableTarget(name: "file-bench", dependencies: ["KerasFile", "Network"], path: "Benchmarks/FileBench"),

        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "Budget"]),
        .testTarget(name: "KerasFileTests", dependencies: ["KerasFile", "HDF5", "CZip"]),
        // Double-precision reference math shared by the kernel and layer gradient checks.
        .target(name: "ReferenceMath", path: "Tests/ReferenceMath"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "ReferenceMath"]),
        .testTarget(name: "NetworkTests", dependencies: ["Network", "KerasFile", "Kernels", "ReferenceMath"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Network", "KerasFile"]),
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics", "Training"]),
        // CHDF5: the hostile-file tests craft external links, external storage and virtual
        // datasets through the C API (Relapse's own layer cannot make them).
        .testTarget(name: "CLITests", dependencies: ["KerasFile", "HDF5", "CHDF5"]),
    ]
)
