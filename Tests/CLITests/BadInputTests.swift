import CHDF5
import Foundation
import HDF5
import KerasFile
import XCTest

/// docs/RELIABILITY.md's table, one test per row: every bad input gets one line on stderr
/// naming the file and the problem, exit status 2, no crash or stack trace, no output file
/// (not even a hidden temporary), and the checkpoints already in the folder untouched.
/// With RELAPSE_RELIABILITY_TABLE=path set, each row's command and message are appended there.
final class BadInputTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try Relapse.temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    // MARK: The contract

    /// Runs `arguments`, expecting the refusal; `names` is the file the message must start with.
    @discardableResult
    func assertRefused(_ row: String, _ arguments: [String], names: String, says phrase: String,
                       outputs: [String] = [], through shell: String? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try shell.map { try Relapse.runProcess($0, arguments) } ?? Relapse.run(arguments)
        XCTAssertEqual(result.status, 2, "exit status; stderr: \(result.stderr)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("relapse: error: \(names): "), "names \(names): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(phrase), "says '\(phrase)': \(result.stderr)", file: file, line: line)
        for output in outputs {
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no \(output)", file: file, line: line)
        }
        XCTAssertEqual(temporaries(), [], "no temporary files", file: file, line: line)
        record(row, arguments, result.stderr)
        return result.stderr
    }

    /// Hidden `.NAME.relapse-tmp.PID.RANDOM` files (or the old `.NAME.tmp-PID`) anywhere under
    /// the test's folder.
    func temporaries() -> [String] {
        let all = FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []
        return all.filter { let name = ($0 as NSString).lastPathComponent; return name.contains(".tmp-") || name.contains(".relapse-tmp.") }
    }

    func record(_ row: String, _ arguments: [String], _ stderr: String) {
        guard let table = ProcessInfo.processInfo.environment["RELAPSE_RELIABILITY_TABLE"] else { return }
        let shown = arguments.map { $0.replacingOccurrences(of: directory, with: "T").replacingOccurrences(of: Relapse.root.path + "/", with: "") }
        let message = stderr.trimmingCharacters(in: .newlines).replacingOccurrences(of: directory, with: "T")
            .replacingOccurrences(of: Relapse.root.path + "/", with: "")
        let text = "| \(row) | `relapse \(shown.joined(separator: " "))` | `\(message)` |\n"
        if let handle = FileHandle(forWritingAtPath: table) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            handle.closeFile()
        } else {
            FileManager.default.createFile(atPath: table, contents: Data(text.utf8))
        }
    }

    /// inspect and resave both refuse `input`; resave leaves no output.
    func assertModelRefused(_ row: String, _ input: String, says phrase: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        try assertRefused(row, ["inspect", input], names: input, says: phrase, file: file, line: line)
        let output = directory + "/out.h5"
        try assertRefused(row + " (resave)", ["resave", input, output], names: input, says: phrase, outputs: [output],
                          file: file, line: line)
        try assertRefused(row + " (train)", ["train", input, "--epochs", "1", "--checkpoints", directory + "/run"],
                          names: input, says: phrase, outputs: [directory + "/run"], file: file, line: line)
    }

    // MARK: Files that are not Keras models

    func testMissingPath() throws {
        try assertModelRefused("missing path", directory + "/absent.h5", says: "no such file")
    }

    func testDirectory() throws {
        let folder = directory + "/folder.h5"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try assertModelRefused("directory", folder, says: "is a directory")
    }

    func testEmptyFile() throws {
        let path = directory + "/empty.h5"
        FileManager.default.createFile(atPath: path, contents: Data())
        try assertModelRefused("empty file", path, says: "is empty")
    }

    func testTextFile() throws {
        let path = directory + "/notes.h5"
        try "model = keras.Sequential()\n".write(toFile: path, atomically: true, encoding: .utf8)
        try assertModelRefused("text file", path, says: "is not an HDF5 file")
    }

    func testTruncatedAtSeveralPoints() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: Relapse.fixture("tfk-adam-trained.h5")))
        // The signature only, inside the superblock, inside the root group's header, inside the
        // global heap, a third, half, and all but the last byte.
        for length in [8, 40, 800, 2100, whole.count / 3, whole.count / 2, whole.count - 1] {
            let path = directory + "/truncated-\(length).h5"
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            let result = try Relapse.run(["inspect", path])
            XCTAssertEqual(result.status, 2, "truncated at \(length): \(result.stderr)")
            try assertRefused("truncated at \(length) of \(whole.count) bytes", ["inspect", path], names: path, says: "cannot open")
        }
    }

    func testHDF5WithoutModelConfig() throws {
        try assertModelRefused("HDF5 without model_config", Relapse.fixture("train-data.h5"),
                               says: "is an HDF5 file but not a Keras model or weights file")
    }

    // MARK: Keras files with one thing wrong

    func testModelConfigNotJSON() throws {
        let path = try doctor { $0.modelConfigJSON = "{\"class_name\": \"Functional\", " }
        try assertModelRefused("model_config not JSON", path, says: "model_config is not valid JSON")
    }

    func testUnknownLayer() throws {
        let path = try doctor { $0.modelConfigJSON = $0.modelConfigJSON!.replacingOccurrences(of: "\"MaxPooling2D\"", with: "\"FancyPooling\"") }
        let says = "layer 'max_pooling2d' (FancyPooling): class_name = \"FancyPooling\" is not a layer Relapse computes"
        let output = directory + "/out.h5"
        try assertRefused("model_config names an unknown layer (resave)", ["resave", path, output], names: path, says: says, outputs: [output])
        try assertRefused("model_config names an unknown layer (train)", ["train", path, "--epochs", "1", "--checkpoints", directory + "/run"],
                          names: path, says: says, outputs: [directory + "/run"])
        // inspect lists what stops training instead of failing on it.
        let inspect = try Relapse.run(["inspect", path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("  - " + says), inspect.stdout)
    }

    func testWeightMissingFromItsGroup() throws {
        let path = try doctor { file in
            let index = file.layerWeights.firstIndex { $0.layerName == "dense" }!
            file.layerWeights[index].weights.removeLast()
        }
        try assertModelRefused("a weight missing (layer has too few)", path, says: "layer 'dense' has 1 weights in the file; its config needs 2")
    }

    func testWeightListedButAbsent() throws {
        let path = try doctor { _ in }
        do {
            let file = try HDF5.File.open(path, writable: true)
            try file.root.group("model_weights/dense").setAttribute("weight_names", strings: ["dense/kernel:0", "dense/bias:0", "dense/extra:0"])
            try file.flush()
        }
        try assertModelRefused("a weight listed in weight_names but absent", path, says: "weight 'dense/extra:0' is listed in /model_weights/dense but missing")
    }

    func testWeightOfWrongShape() throws {
        let path = try doctor { file in
            let index = file.layerWeights.firstIndex { $0.layerName == "dense" }!
            file.layerWeights[index].weights[0].values = NumericArray(shape: [35, 2], floats: [Float](repeating: 0, count: 70))
            file.optimizerWeights = nil
        }
        try assertModelRefused("a weight of the wrong shape", path, says: "dense")
        let withState = try doctor { file in
            let index = file.layerWeights.firstIndex { $0.layerName == "dense" }!
            file.layerWeights[index].weights[0].values = NumericArray(shape: [35, 2], floats: [Float](repeating: 0, count: 70))
        }
        try assertModelRefused("a weight of the wrong shape (its optimizer slots kept)", withState,
                               says: "optimizer slot 'm' of 'dense/kernel:0' has shape [36, 2], the weight has [35, 2]")
    }

    func testWeightOfWrongDtype() throws {
        let path = try doctor { file in
            let index = file.layerWeights.firstIndex { $0.layerName == "dense" }!
            let shape = file.layerWeights[index].weights[1].values.shape
            file.layerWeights[index].weights[1].values = NumericArray(
                shape: shape, elementType: .int32, bytes: [UInt8](repeating: 0, count: shape.reduce(1, *) * 4))
        }
        try assertModelRefused("a weight of the wrong dtype (int32)", path, says: "is int32, not a float")
    }

    func testOptimizerStateNotMatchingWeights() throws {
        let path = try doctor { file in
            let index = file.optimizerWeights!.firstIndex { $0.name.contains("/m/dense/kernel") }!
            file.optimizerWeights![index].values = NumericArray(shape: [3], floats: [0, 0, 0])
        }
        try assertModelRefused("optimizer state not matching the weights (shape)", path, says: "optimizer slot 'm' of")
        let extra = try doctor { file in
            file.optimizerWeights!.append(NamedArray(name: "Adam/m/nowhere/kernel:0", values: NumericArray(shape: [1], floats: [0])))
        }
        try assertModelRefused("optimizer state naming a weight the model lacks", extra, says: "does not name a weight of the model")
    }

    /// A libhdf5 1.10 crash no check can foresee (one flipped bit in a variable-length string's
    /// heap reference; found by tools/fuzz.py): still one line and status 2.
    func testCrashInsideLibHDF5IsReportedAsBadInput() throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Relapse.fixture("tfk-weights-only.h5")))
        bytes[1150] ^= 0x08
        let path = directory + "/flipped.h5"
        try bytes.write(to: URL(fileURLWithPath: path))
        try assertRefused("libhdf5 crash (fuzz find: bit 3 of byte 1150 of tfk-weights-only.h5)", ["inspect", path],
                          names: path, says: "libhdf5 crashed reading it")
    }

    // MARK: Files that reach outside themselves (issue 16): refused before anything is read

    /// A copy of the Adam fixture whose dense bias is replaced by `make(group, name)`, made
    /// through libhdf5's C API (Relapse's own layer cannot make such files).
    func replacingBias(_ make: (hid_t, String) -> Bool) throws -> String {
        let path = directory + "/crafted-\(UUID().uuidString.prefix(8)).h5"
        try FileManager.default.copyItem(atPath: Relapse.fixture("tfk-adam-trained.h5"), toPath: path)
        let file = H5Fopen(path, relapse_H5F_ACC_RDWR(), relapse_H5P_DEFAULT())
        XCTAssertGreaterThanOrEqual(file, 0)
        defer { H5Fclose(file) }
        let group = H5Gopen2(file, "model_weights/dense/dense", relapse_H5P_DEFAULT())
        defer { H5Gclose(group) }
        XCTAssertGreaterThanOrEqual(H5Ldelete(group, "bias:0", relapse_H5P_DEFAULT()), 0)
        XCTAssertTrue(make(group, "bias:0"))
        return path
    }

    /// A FIFO nobody writes to: anything that opens it for reading blocks forever.
    func makeFIFO(_ name: String) -> String {
        let path = directory + "/" + name
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        return path
    }

    func assertStillAFIFO(_ path: String, file: StaticString = #filePath, line: UInt = #line) {
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0, file: file, line: line)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "\(path) is still a FIFO", file: file, line: line)
    }

    func testExternalLinkIsRefusedNotFollowed() throws {
        let fifo = makeFIFO("fifo")
        let path = try replacingBias { group, name in
            H5Lcreate_external(fifo, "/x", group, name, relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT()) >= 0
        }
        // Followed, it would hang on the FIFO; refused, it cannot.
        try assertModelRefused("HDF5 external link (a weight linked to a FIFO)", path,
                               says: "reaches outside itself: '/model_weights/dense/dense/bias:0' is an external link to \(fifo):/x")
        assertStillAFIFO(fifo)
    }

    func testExternalRawStorageIsRefusedNotRead() throws {
        // The bias's 8 bytes would be read from this file (and resave would copy them out).
        let secret = directory + "/secret.txt"
        try "private: not a weight".write(toFile: secret, atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: secret))
        let path = try replacingBias { group, name in
            let properties = H5Pcreate(relapse_H5P_DATASET_CREATE())
            defer { H5Pclose(properties) }
            guard H5Pset_external(properties, secret, 0, 8) >= 0 else { return false }
            var dims: [hsize_t] = [2]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(group, name, relapse_H5T_IEEE_F32LE(), space, relapse_H5P_DEFAULT(), properties, relapse_H5P_DEFAULT())
            defer { H5Dclose(dataset) }
            return dataset >= 0
        }
        try assertModelRefused("HDF5 external raw storage (a weight's bytes in another file)", path,
                               says: "dataset '/model_weights/dense/dense/bias:0' is stored in an external file (\(secret))")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: secret)), before)
    }

    func testVirtualDatasetIsRefused() throws {
        let fifo = makeFIFO("source.h5")
        let path = try replacingBias { group, name in
            var dims: [hsize_t] = [2]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            let properties = H5Pcreate(relapse_H5P_DATASET_CREATE())
            defer { H5Pclose(properties) }
            guard H5Pset_virtual(properties, space, fifo, "/x", space) >= 0 else { return false }
            let dataset = H5Dcreate2(group, name, relapse_H5T_IEEE_F32LE(), space, relapse_H5P_DEFAULT(), properties, relapse_H5P_DEFAULT())
            defer { H5Dclose(dataset) }
            return dataset >= 0
        }
        try assertModelRefused("HDF5 virtual dataset (a weight mapped onto another file)", path,
                               says: "dataset '/model_weights/dense/dense/bias:0' is a virtual dataset")
        assertStillAFIFO(fifo)
    }

    func testFIFOsAndDevicesAreRefusedBeforeOpening() throws {
        let fifo = makeFIFO("model.h5")
        try assertModelRefused("a FIFO given as the model", fifo, says: "is a FIFO, not a regular file")
        let data = makeFIFO("data.h5")
        try assertDataRefused("a FIFO given as --data", data, says: "is a FIFO, not a regular file")
        try assertRefused("a character device given as --data", ["train", Relapse.fixture("train-start-adam.h5"), "--data", "/dev/zero",
                                                                 "--epochs", "1", "--checkpoints", directory + "/run"],
                          names: "/dev/zero", says: "is a character device, not a regular file", outputs: [directory + "/run"])
        let x = makeFIFO("x.npy")
        try assertRefused("a FIFO given as --x", ["train", Relapse.fixture("train-start-adam.h5"), "--x", x, "--y", x,
                                                 "--epochs", "1", "--checkpoints", directory + "/run"],
                          names: x, says: "is a FIFO, not a regular file", outputs: [directory + "/run"])
        try assertRefused("a FIFO given to predict as --data", ["predict", Relapse.fixture("train-start-adam.h5"), "--data", data,
                                                               "--out", directory + "/pred.h5"],
                          names: data, says: "is a FIFO, not a regular file", outputs: [directory + "/pred.h5"])
        assertStillAFIFO(fifo)
        assertStillAFIFO(data)
    }

    func testDataFileWithAnExternalLinkIsRefused() throws {
        let fifo = makeFIFO("fifo")
        let data = try writeData(x: ([256, 1, 8, 8], nil), y: ([256, 2], nil))
        let file = H5Fopen(data, relapse_H5F_ACC_RDWR(), relapse_H5P_DEFAULT())
        XCTAssertGreaterThanOrEqual(H5Ldelete(file, "y", relapse_H5P_DEFAULT()), 0)
        XCTAssertGreaterThanOrEqual(H5Lcreate_external(fifo, "/y", file, "y", relapse_H5P_DEFAULT(), relapse_H5P_DEFAULT()), 0)
        H5Fclose(file)
        try assertDataRefused("an external link in the --data file", data, says: "'/y' is an external link to \(fifo):/y")
        assertStillAFIFO(fifo)
    }

    // MARK: Usage errors: ArgumentParser's contract, exit 64

    func testUsageErrorsExit64WithArgumentParsersMessage() throws {
        for arguments in [["train", "--epochs", "0"], ["resume"], ["inspect", "a.h5", "--no-such-flag"], ["frobnicate"]] {
            let result = try Relapse.run(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("Error: "), "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("Usage: relapse") || result.stderr.contains("Help:"), "\(arguments): \(result.stderr)")
        }
    }

    // MARK: Bad data: refused before any training starts

    func testDataOfWrongShape() throws {
        let data = try writeData(x: ([256, 1, 6, 6], nil), y: ([256, 2], nil))
        try assertDataRefused("data of the wrong shape", data, says: "x has samples of shape (1, 6, 6) but the model expects (1, 8, 8)")
        let channelsLast = try writeData(x: ([256, 8, 8, 1], nil), y: ([256, 2], nil))
        try assertDataRefused("data in the other layout", channelsLast, says: "(channels_last data for a channels_first model)")
    }

    func testLabelsNotMatchingTheOutput() throws {
        let data = try writeData(x: ([256, 1, 8, 8], nil), y: ([256, 3], nil))
        try assertDataRefused("labels not matching the model's output", data, says: "y has shape (256, 3) but the model's output needs (256, 2)")
        let fewer = try writeData(x: ([256, 1, 8, 8], nil), y: ([200, 2], nil))
        try assertDataRefused("fewer labels than samples", fewer, says: "x has 256 samples but y has 200")
    }

    func testNaNAndInfinityInTheData() throws {
        let nan = try writeData(x: ([256, 1, 8, 8], (77, .nan)), y: ([256, 2], nil))
        try assertDataRefused("NaN in x", nan, says: "x holds 1 NaN value; the first is in sample 1 (flat index 77)")
        let inf = try writeData(x: ([256, 1, 8, 8], nil), y: ([256, 2], (5, .infinity)))
        try assertDataRefused("Inf in y", inf, says: "y holds 1 infinite value; the first is in sample 2")
    }

    func testEmptyDataSet() throws {
        let data = try writeData(x: ([0, 1, 8, 8], nil), y: ([0, 2], nil))
        try assertDataRefused("an empty data set", data, says: "holds no samples")
    }

    func testDataFileMissingOrNotHDF5() throws {
        try assertDataRefused("data file missing", directory + "/absent.h5", says: "does not exist")
        let text = directory + "/data.h5"
        try "1,2,3\n".write(toFile: text, atomically: true, encoding: .utf8)
        try assertDataRefused("data file not HDF5", text, says: "is not an HDF5 file")
    }

    func assertDataRefused(_ row: String, _ data: String, says phrase: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let run = directory + "/run"
        try assertRefused(row, ["train", Relapse.fixture("train-start-adam.h5"), "--data", data, "--epochs", "1",
                                "--checkpoints", run], names: data, says: phrase, outputs: [run], file: file, line: line)
    }

    // MARK: Checkpoint folders that cannot take a checkpoint

    func testCheckpointFolderIsAFile() throws {
        let blocker = directory + "/blocker"
        try "not a folder".write(toFile: blocker, atomically: true, encoding: .utf8)
        try assertRefused("checkpoint folder is a file", trainArguments(checkpoints: blocker + "/run"),
                          names: blocker + "/run", says: "\(blocker) is a file, not a folder")
    }

    func testUnwritableCheckpointFolder() throws {
        let folder = directory + "/readonly"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if geteuid() == 0 {
            let earlier = try seedCheckpoint(in: directory + "/seed")
            // Root writes through permissions: mount a read-only file system over the folder.
            try mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", folder])
            defer { _ = try? shell(["umount", folder]) }
            try FileManager.default.copyItem(atPath: earlier.path, toPath: folder + "/epoch-0001.h5")
            try mount(["-o", "remount,ro", folder])
            try assertRefused("unwritable checkpoint folder (read-only mount)",
                              ["resume", folder + "/epoch-0001.h5", "--epochs", "1", "--checkpoints", folder], names: folder,
                              says: "Read-only file system")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/epoch-0001.h5")), earlier.bytes)
        } else {
            let earlier = try seedCheckpoint(in: folder)
            chmod(folder, 0o555)
            defer { chmod(folder, 0o755) }
            try assertRefused("unwritable checkpoint folder (mode 555)",
                              ["resume", earlier.path, "--epochs", "1", "--checkpoints", folder], names: folder, says: "Permission denied")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: earlier.path)), earlier.bytes)
        }
    }

    /// A file-size limit (ulimit -f) below a checkpoint's size: the write fails with EFBIG.
    func testCheckpointWriteFailsOnAFileSizeLimit() throws {
        let folder = directory + "/limited"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let earlier = try seedCheckpoint(in: folder)
        // dash's ulimit -f counts 512-byte blocks: 40 blocks is 20 KB, under a 34 KB checkpoint.
        let arguments = ["resume", earlier.path, "--epochs", "1", "--checkpoints", folder]
        try assertRefused("full disk, simulated: file-size limit (ulimit -f) during a checkpoint write",
                          ["-c", "ulimit -f 40; exec \"$0\" \"$@\"", Relapse.executable.path] + arguments,
                          names: folder + "/epoch-0002.h5", says: "cannot be written", outputs: [folder + "/epoch-0002.h5"],
                          through: "/bin/sh")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: earlier.path)), earlier.bytes, "earlier checkpoint untouched")
        XCTAssertEqual(try Relapse.run(["inspect", earlier.path]).status, 0)
    }

    /// A real full disk: a small tmpfs (needs root to mount; skipped otherwise, where the
    /// file-size-limit test above stands in).
    func testCheckpointWriteFailsOnAFullDisk() throws {
        guard geteuid() == 0 else { throw XCTSkip("mounting a small tmpfs needs root") }
        let folder = directory + "/full"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let earlier = try seedCheckpoint(in: directory + "/seed")
        // Room for the first checkpoint and little more: epoch 2's checkpoint cannot fit.
        try mount(["-t", "tmpfs", "-o", "size=48k", "tmpfs", folder])
        defer { _ = try? shell(["umount", folder]) }
        try FileManager.default.copyItem(atPath: earlier.path, toPath: folder + "/epoch-0001.h5")
        try assertRefused("full disk (48 KB tmpfs) during a checkpoint write",
                          ["resume", folder + "/epoch-0001.h5", "--epochs", "2", "--checkpoints", folder], names: folder + "/epoch-0002.h5",
                          says: "cannot be written", outputs: [folder + "/epoch-0002.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/epoch-0001.h5")), earlier.bytes, "earlier checkpoint untouched")
        XCTAssertEqual(try Relapse.run(["inspect", folder + "/epoch-0001.h5"]).status, 0)
    }

    // MARK: Helpers

    func trainArguments(checkpoints: String) -> [String] {
        ["train", Relapse.fixture("train-start-adam.h5"), "--data", Relapse.fixture("train-data.h5"), "--epochs", "1",
         "--checkpoints", checkpoints]
    }

    /// One epoch of the small model trained into `folder`; its path and bytes.
    func seedCheckpoint(in folder: String) throws -> (path: String, bytes: Data) {
        let result = try Relapse.run(trainArguments(checkpoints: folder))
        XCTAssertEqual(result.status, 0, result.stderr)
        let path = folder + "/epoch-0001.h5"
        return (path, try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// A copy of the Adam fixture with one thing changed, written through Relapse's raw layer.
    func doctor(_ change: (inout KerasModelFile) -> Void) throws -> String {
        var file = try KerasModelFile.read(Relapse.fixture("tfk-adam-trained.h5"))
        change(&file)
        let path = directory + "/doctored-\(UUID().uuidString.prefix(8)).h5"
        try file.write(to: path)
        return path
    }

    /// An HDF5 data file with x and y of the given shapes (values in [0, 1), one-hot y), one
    /// value optionally replaced.
    func writeData(x: ([Int], (Int, Float)?), y: ([Int], (Int, Float)?)) throws -> String {
        func values(_ shape: [Int], _ poke: (Int, Float)?, oneHot: Bool) -> NumericArray {
            let count = shape.reduce(1, *)
            var floats = (0..<count).map { oneHot ? Float($0 % 2) : Float($0 % 97) / 97 }
            if let (index, value) = poke { floats[index] = value }
            return NumericArray(shape: shape, floats: floats)
        }
        let path = directory + "/data-\(UUID().uuidString.prefix(8)).h5"
        let file = try HDF5.File.create(path)
        try file.root.createDataset("x", values: values(x.0, x.1, oneHot: false))
        try file.root.createDataset("y", values: values(y.0, y.1, oneHot: true))
        try file.flush()
        return path
    }

    func mount(_ arguments: [String]) throws {
        let status = try shell(["mount"] + arguments)
        if status != 0 { throw XCTSkip("mount \(arguments.joined(separator: " ")) failed (status \(status))") }
    }

    @discardableResult
    func shell(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
