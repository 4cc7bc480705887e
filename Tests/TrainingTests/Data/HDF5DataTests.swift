import Foundation
import XCTest
import HDF5
import Kernels
@testable import Training

final class HDF5DataTests: XCTestCase {
    func testMakeDataRoundTrip() throws {
        let folder = try makeTemporaryDirectory(self)
        let path = folder + "/lines.h5"
        let data = Dataset.synthetic(count: 10, seed: 9)
        try writeDataset(data, to: path)
        let back = try Dataset.hdf5(path: path)
        XCTAssertEqual(back.x, data.x)
        XCTAssertEqual(back.y, data.y)
        XCTAssertEqual(back.fingerprint, data.fingerprint)
        XCTAssertEqual(back.source, .hdf5(path: path))
        let file = try File.open(path)
        XCTAssertEqual(try file.root.dataset("x").elementType(), .float32)
        XCTAssertEqual(try file.root.dataset("y").elementType(), .float32)
        XCTAssertEqual(try file.root.stringAttribute("relapse_data_source"), #"{"count":"10","kind":"synthetic","seed":"9"}"#)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["lines.h5"], "no temporary file left")
    }

    func testIntegerAndDoubleDatasetsBecomeFloat32() throws {
        let path = try makeTemporaryDirectory(self) + "/ints.h5"
        let file = try File.create(path)
        try file.root.createDataset("x", values: NumericArray(shape: [2, 2], doubles: [0.1, 2, 3, 4]))
        try file.root.createDataset("y", values: NumericArray(shape: [2, 1], int64s: [0, 1]))
        try file.flush()
        let data = try Dataset.hdf5(path: path)
        XCTAssertEqual(data.x, Tensor(shape: [2, 2], data: [Float(0.1), 2, 3, 4]))
        XCTAssertEqual(data.y, Tensor(shape: [2, 1], data: [0, 1]))
    }

    /// The question's own file: `full` and `broken`, as (c, slices, 32, 32) or (n, 32, 32).
    func testFullAndBrokenInBothShapesAndLayouts() throws {
        let folder = try makeTemporaryDirectory(self)
        let image = (0..<1024).map { Float($0) }
        for (fullShape, brokenShape) in [([2, 3, 32, 32], [1, 2, 32, 32]), ([6, 32, 32], [2, 32, 32])] {
            let nFull = fullShape.dropLast(2).reduce(1, *), nBroken = brokenShape.dropLast(2).reduce(1, *)
            let full = (0..<nFull).flatMap { i in image.map { $0 + Float(i) * 10_000 } }
            let broken = (0..<nBroken).flatMap { i in image.map { -$0 - Float(i) * 10_000 } }
            let path = folder + "/question-\(fullShape.count).h5"
            let file = try File.create(path)
            try file.root.createDataset("full", values: NumericArray(shape: fullShape, floats: full))
            try file.root.createDataset("broken", values: NumericArray(shape: brokenShape, floats: broken))
            try file.flush()
            for layout in [ImageLayout.nchw, .nhwc] {
                let data = try Dataset.hdf5(path: path, layout: layout)
                let n = nFull + nBroken
                XCTAssertEqual(data.x.shape, layout == ImageLayout.nchw ? [n, 1, 32, 32] : [n, 32, 32, 1])
                XCTAssertEqual(data.x.data, full + broken, "full first, then broken, in stored order")
                XCTAssertEqual(data.y.shape, [n, 2])
                XCTAssertEqual(data.y.data, Array((0..<n).map { $0 < nFull ? [Float(1), 0] : [0, 1] }.joined()))
            }
        }
    }

    func testErrorsNameTheFile() throws {
        let folder = try makeTemporaryDirectory(self)
        XCTAssertEqual(dataErrorMessage { try Dataset.hdf5(path: folder + "/missing.h5") }, "\(folder)/missing.h5: does not exist")
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: folder + "/text.h5"))
        XCTAssertEqual(dataErrorMessage { try Dataset.hdf5(path: folder + "/text.h5") }, "\(folder)/text.h5: is not an HDF5 file")

        let other = folder + "/other.h5"
        let file = try File.create(other)
        try file.root.createDataset("images", values: NumericArray(shape: [1], floats: [0]))
        try file.root.createDataset("x", values: NumericArray(shape: [1], floats: [0]))
        try file.flush()
        XCTAssertEqual(dataErrorMessage { try Dataset.hdf5(path: other) }, "\(other): has a dataset 'x' but no 'y'")

        let neither = folder + "/neither.h5"
        let file2 = try File.create(neither)
        try file2.root.createDataset("images", values: NumericArray(shape: [1], floats: [0]))
        try file2.root.createDataset("labels", values: NumericArray(shape: [1], floats: [0]))
        try file2.flush()
        XCTAssertEqual(dataErrorMessage { try Dataset.hdf5(path: neither) },
                       "\(neither): holds neither datasets 'x' and 'y' nor 'full' and 'broken' (it holds: images, labels)")

        let source = DataSourceDescription.hdf5(path: "q.h5")
        XCTAssertEqual(dataErrorMessage {
            try Dataset.fullAndBroken(full: Tensor(zeros: [2, 32, 32]), broken: Tensor(zeros: [1, 16, 16]), layout: .nchw, source: source)
        }, "q.h5: 'full' holds 32x32 images but 'broken' holds 16x16")
        XCTAssertEqual(dataErrorMessage {
            try Dataset.fullAndBroken(full: Tensor(zeros: [32, 32]), broken: Tensor(zeros: [1, 32, 32]), layout: .nchw, source: source)
        }, "q.h5: 'full' has shape [32, 32]; expected (n, height, width) or (c, slices, height, width)")
    }

    func testOpenReopensEachKindOfSource() throws {
        let folder = try makeTemporaryDirectory(self)
        let data = Dataset.synthetic(count: 8, seed: 3)
        XCTAssertEqual(try Dataset.open(.synthetic(count: 8, seed: 3)), data)
        XCTAssertEqual(try Dataset.open(.synthetic(count: 8, seed: 3), layout: .nhwc).x.shape, [8, 32, 32, 1])
        try data.write(to: folder + "/d.h5")
        XCTAssertEqual(try Dataset.open(.hdf5(path: folder + "/d.h5")).fingerprint, data.fingerprint)
        try NumPyFile.write(data.x, to: folder + "/x.npy")
        try NumPyFile.write(data.y, to: folder + "/y.npy")
        XCTAssertEqual(try Dataset.open(.npy(xPath: folder + "/x.npy", yPath: folder + "/y.npy")).fingerprint, data.fingerprint)
        XCTAssertEqual(dataErrorMessage { try Dataset.open(.inMemory(name: "test set")) },
                       "test set: was built in memory and cannot be opened again")
    }

    func testWriteIntoMissingFolderFails() {
        XCTAssertEqual(dataErrorMessage { try writeDataset(Dataset.synthetic(count: 1), to: "/nonexistent/d.h5") },
                       "/nonexistent/d.h5: cannot be written: folder /nonexistent does not exist")
    }
}
