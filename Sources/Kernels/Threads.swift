#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Worker threads the kernels split a batch over: the cores this process may use.
public let kernelWorkers = max(1, ProcessInfo.processInfo.activeProcessorCount)

/// libgomp's `omp_set_num_threads`, when the GEMM library brought an OpenMP runtime with it.
/// Looked up at run time so that a oneDNN built on another threading runtime links as well.
private let ompSetNumThreads: (@convention(c) (Int32) -> Void)? = {
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "omp_set_num_threads") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Void).self)
}()

/// Makes GEMMs called from this thread run on this thread alone. The kernels parallelise over
/// samples themselves: an OpenMP team inside each GEMM would spin on the other core between
/// calls (measured: 30% of a training step in libgomp's barrier) and serialise the Swift code
/// between GEMMs. The setting is per thread (OpenMP's nthreads-var ICV), so each worker sets it.
@usableFromInline
func useSingleThreadedGemm() { ompSetNumThreads?(1) }
