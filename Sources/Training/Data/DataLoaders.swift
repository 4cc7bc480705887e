import Budget
import Foundation
import HDF5
import Kernels

extension Dataset {
    /// An HDF5 file with datasets `x` and `y` (any float or integer type, read as float32), or
    /// with `full` and `broken` as the original question stored them: (c, slices, h, w) or
    /// (n, h, w) each, become x = full then broken, in `layout` with one channel, and y = [1, 0]
    /// for full, [0, 1] for broken. `layout` matters only for the second form. With `names`
    /// (what the model reads), a file with neither form, or any file for a model with several
    /// inputs or outputs, is read one dataset per name (`Dataset.named`).
    public static func hdf5(path: String, layout: ImageLayout = .nchw, names: DataNames? = nil) throws -> Dataset {
        if let problem = RegularFile.problem(path) { throw DataError(path, problem) }
        guard File.isHDF5(path) else { throw DataError(path, "is not an HDF5 file") }
        do {
            let root = try File.open(path).root
            let source = DataSourceDescription.hdf5(path: path)
            if let names, !names.isSingle {
                return try named(root, path: path, names: names)
            }
            if root.hasDataset("x") || root.hasDataset("y") {
                guard root.hasDataset("x"), root.hasDataset("y") else {
                    throw DataError(path, "has a dataset '\(root.hasDataset("x") ? "x" : "y")' but no '\(root.hasDataset("x") ? "y" : "x")'")
                }
                return Dataset(x: try read(root, "x"), y: try read(root, "y"), source: source)
            }
            if root.hasDataset("full") && root.hasDataset("broken") {
                let full = try read(root, "full"), broken = try read(root, "broken")
                return try fullAndBroken(full: full, broken: broken, layout: layout, source: source)
            }
            if let names {
                return try named(root, path: path, names: names)
            }
            let holds = (try? root.childNames()) ?? []
            throw DataError(path, "holds neither datasets 'x' and 'y' nor 'full' and 'broken' (it holds: "
                + (holds.isEmpty ? "nothing" : holds.sorted().joined(separator: ", ")) + ")")
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(path, "cannot be read: \(error)")
        }
    }

    private static func read(_ root: Group, _ name: String) throws -> Tensor {
        let values = try root.dataset(name).read()
        return Tensor(shape: values.shape, data: values.floats())
    }

    /// The question's layout: images of one kind per dataset, the label implied by the name.
    static func fullAndBroken(full: Tensor, broken: Tensor, layout: ImageLayout,
                              source: DataSourceDescription) throws -> Dataset {
        let name = source.name(of: .x)
        func images(_ t: Tensor, _ what: String) throws -> (count: Int, height: Int, width: Int) {
            guard t.rank == 3 || t.rank == 4 else {
                throw DataError(name, "'\(what)' has shape \(t.shape); expected (n, height, width) or (c, slices, height, width)")
            }
            return (t.shape.dropLast(2).reduce(1, *), t.shape[t.rank - 2], t.shape[t.rank - 1])
        }
        let f = try images(full, "full"), b = try images(broken, "broken")
        guard f.height == b.height, f.width == b.width else {
            throw DataError(name, "'full' holds \(f.height)x\(f.width) images but 'broken' holds \(b.height)x\(b.width)")
        }
        let count = f.count + b.count
        var y = [Float](repeating: 0, count: count * 2)
        for i in 0..<count { y[i * 2 + (i < f.count ? 0 : 1)] = 1 }
        // One channel: channels_first and channels_last hold the same values in the same order.
        return Dataset(
            x: Tensor(shape: [count] + layout.sampleShape(height: f.height, width: f.width), data: full.data + broken.data),
            y: Tensor(shape: [count, 2], data: y),
            source: source)
    }

    /// `x.npy` and `y.npy` as numpy saved them.
    public static func numPy(xPath: String, yPath: String) throws -> Dataset {
        Dataset(x: try NumPyFile.read(xPath), y: try NumPyFile.read(yPath), source: .npy(xPath: xPath, yPath: yPath))
    }

    /// Refuses a synthetic set of `count` samples that is negative or would not fit the memory
    /// budget (`--synthetic 2^40` aborted in the allocator).
    public static func checkSyntheticFits(count: Int) throws {
        guard count > 0 else { throw DataError("--synthetic \(count)", "needs a positive count") }
        do {
            try MemoryBudget.check("\(count) images of 32 x 32 with their labels",
                                   bytes: MemoryBudget.byteCount([count, SyntheticBrokenLines.side * SyntheticBrokenLines.side + 2]))
        } catch let error as ResourceError {
            throw DataError("--synthetic \(count)", error.message)
        }
    }

    /// The generated broken-lines set; see `SyntheticBrokenLines`.
    public static func synthetic(count: Int, seed: UInt64 = 0, noise: Float = 0,
                                 layout: ImageLayout = .nchw) -> Dataset {
        SyntheticBrokenLines(count: count, seed: seed, noise: noise).makeDataset(layout: layout)
    }

    /// Opens a recorded source again, as a resume does. `layout` is the model's, as when the
    /// source was first opened; `names`, what the model reads (`hdf5(path:layout:names:)`): the
    /// single-array sources fit only a model with one input and one output.
    public static func open(_ source: DataSourceDescription, layout: ImageLayout = .nchw, names: DataNames? = nil) throws -> Dataset {
        if case .hdf5 = source {} else { try names?.checkSingleArraySource(source) }
        switch source {
        case let .synthetic(count, seed, noise):
            guard noise >= 0 && noise < 1 else { throw DataError(source.name(of: .x), "noise must be in [0, 1)") }
            try checkSyntheticFits(count: count)
            return synthetic(count: count, seed: seed, noise: noise, layout: layout)
        case .hdf5(let path): return try hdf5(path: path, layout: layout, names: names)
        case let .npy(xPath, yPath): return try numPy(xPath: xPath, yPath: yPath)
        case .inMemory(let name): throw DataError(name, "was built in memory and cannot be opened again")
        }
    }
}
