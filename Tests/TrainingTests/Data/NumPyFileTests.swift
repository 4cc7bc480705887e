import Foundation
import XCTest
import Kernels
@testable import Training

/// Files written by numpy 2.4.6, embedded as base64 so the suite needs no Python. Made with:
///
///     import numpy as np, io, base64
///     from numpy.lib import format as F
///     def enc(a, version=None):
///         b = io.BytesIO()
///         F.write_array(b, a, version=version) if version else np.save(b, a)
///         return base64.b64encode(b.getvalue()).decode()
///
/// with the array named beside each constant.
private enum NumPyWritten {
    /// np.array([[0.5, -1.25, 3.0], [1e-7, -0.0, 65504.0]], dtype='<f4')
    static let f4 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAA/AACgvwAAQECVv9YzAAAAgADgf0c="
    /// np.array([0.1, -2.5, 1e300, 1/3], dtype='<f8')
    static let f8 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqamZmZmZm5PwAAAAAAAATAnHUAiDzkN35VVVVVVVXVPw=="
    /// np.array([[-3, 0], [7, 2**40]], dtype='<i8')
    static let i8 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr9/////////wAAAAAAAAAABwAAAAAAAAAAAAAAAAEAAA=="
    /// np.array([-2147483648, 5, 2147483647], dtype='<i4')
    static let i4 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAACABQAAAP///38="
    /// np.array([0, 1, 255], dtype='u1')
    static let u1 = "k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAf8="
    /// np.array([True, False, True])
    static let b1 = "k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE="
    /// np.asarray(np.float32(2.5)), shape ()
    static let scalar = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAACBA"
    /// enc(np.arange(6, dtype='<f4').reshape(2, 3), (2, 0))
    static let version2 = "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA="
    /// enc(np.arange(6, dtype='<f4').reshape(3, 2), (3, 0))
    static let version3 = "k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA="
    /// np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
    static let fortran = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA="
    /// np.arange(3, dtype='>f4')
    static let bigEndian = "k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA="
    /// np.arange(2, dtype='<c8')
    static let complex = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGM4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAgD8AAAAA"
    /// np.zeros((0, 3), dtype='<f4')
    static let empty = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo="
}

final class NumPyFileTests: XCTestCase {
    private func decode(_ base64: String) throws -> Tensor {
        try NumPyFile.decode([UInt8](Data(base64Encoded: base64)!), path: "a.npy")
    }

    private func error(_ base64: String) -> String? {
        dataErrorMessage { try self.decode(base64) }
    }

    func testReadsWhatNumPyWrote() throws {
        XCTAssertEqual(try decode(NumPyWritten.f4), Tensor(shape: [2, 3], data: [0.5, -1.25, 3, 1e-7, -0.0, 65504]))
        XCTAssertEqual(try decode(NumPyWritten.f4).data[4].sign, .minus)
        let f8 = try decode(NumPyWritten.f8)
        XCTAssertEqual(f8.shape, [4])
        // numpy's astype(np.float32) gives these bits: round to nearest, 1e300 overflows to inf.
        XCTAssertEqual(f8.data.map(\.bitPattern), [1_036_831_949, 3_223_322_624, 2_139_095_040, 1_051_372_203])
        XCTAssertEqual(try decode(NumPyWritten.i8), Tensor(shape: [2, 2], data: [-3, 0, 7, 1_099_511_627_776]))
        XCTAssertEqual(try decode(NumPyWritten.i4), Tensor(shape: [3], data: [-2_147_483_648, 5, 2_147_483_648]), "2**31 - 1 rounds to 2**31 in float32")
        XCTAssertEqual(try decode(NumPyWritten.u1), Tensor(shape: [3], data: [0, 1, 255]))
        XCTAssertEqual(try decode(NumPyWritten.b1), Tensor(shape: [3], data: [1, 0, 1]))
        XCTAssertEqual(try decode(NumPyWritten.scalar), Tensor(shape: [], data: [2.5]))
        XCTAssertEqual(try decode(NumPyWritten.version2), Tensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(try decode(NumPyWritten.version3), Tensor(shape: [3, 2], data: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(try decode(NumPyWritten.empty), Tensor(shape: [0, 3], data: []))
    }

    func testRefusesWhatItCannotReadFaithfully() {
        XCTAssertEqual(error(NumPyWritten.fortran),
                       "a.npy: is stored in Fortran order; save it in C order: np.save(p, np.ascontiguousarray(x))")
        XCTAssertEqual(error(NumPyWritten.bigEndian),
                       "a.npy: holds big-endian '>f4'; save it little-endian: np.save(p, x.astype('<f4'))")
        XCTAssertEqual(error(NumPyWritten.complex),
                       "a.npy: holds dtype '<c8', which is not supported (use float32, float64, an integer type or bool: x.astype('<f4'))")
        let truncated = [UInt8](Data(base64Encoded: NumPyWritten.f4)!).dropLast(4)
        XCTAssertEqual(dataErrorMessage { try NumPyFile.decode(Array(truncated), path: "a.npy") },
                       "a.npy: is truncated: shape [2, 3] needs 24 bytes of data but the file holds 20")
        XCTAssertEqual(dataErrorMessage { try NumPyFile.decode(Array("PK\u{3}\u{4} not numpy".utf8), path: "a.npy") },
                       "a.npy: is not a NumPy .npy file (no \\x93NUMPY signature)")
        var header = NumPyFile.encode(Tensor(shape: [1], data: [1]))
        header[6] = 4
        XCTAssertEqual(dataErrorMessage { try NumPyFile.decode(header, path: "a.npy") },
                       "a.npy: is .npy format version 4.0, which is not supported (1.0, 2.0 and 3.0 are)")
        XCTAssertEqual(dataErrorMessage { try NumPyFile.read("/nonexistent/x.npy") }, "/nonexistent/x.npy: does not exist")
    }

    func testHeaderParser() throws {
        XCTAssertEqual(try NumPyHeader.parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }"),
                       NumPyHeader(descr: "<f4", fortranOrder: false, shape: [3, 4]))
        XCTAssertEqual(try NumPyHeader.parse("{\"shape\": (5,), \"fortran_order\": True, \"descr\": \"|u1\"}"),
                       NumPyHeader(descr: "|u1", fortranOrder: true, shape: [5]))
        XCTAssertThrowsError(try NumPyHeader.parse("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"))
        XCTAssertThrowsError(try NumPyHeader.parse("{'descr': '<f4', 'shape': (2,), }"))
        XCTAssertThrowsError(try NumPyHeader.parse("not a dict"))
    }

    /// The writer's header matches numpy's own for the same array, up to padding.
    func testWriterHeaderAndRoundTrip() throws {
        let numpy = [UInt8](Data(base64Encoded: NumPyWritten.f4)!)
        let tensor = Tensor(shape: [2, 3], data: [0.5, -1.25, 3, 1e-7, -0.0, 65504])
        let ours = NumPyFile.encode(tensor)
        XCTAssertEqual(ours.count % 64, 24 % 64, "header padded to 64 bytes, then 24 bytes of data")
        XCTAssertEqual(Array(ours.suffix(24)), Array(numpy.suffix(24)))
        let text = { (b: [UInt8]) in String(decoding: b[10..<(b.count - 24)], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(text(ours), text(numpy))

        let folder = try makeTemporaryDirectory(self)
        let x = Dataset.synthetic(count: 6, seed: 4)
        try NumPyFile.write(x.x, to: folder + "/x.npy")
        try NumPyFile.write(x.y, to: folder + "/y.npy")
        let back = try Dataset.numPy(xPath: folder + "/x.npy", yPath: folder + "/y.npy")
        XCTAssertEqual(back.x, x.x)
        XCTAssertEqual(back.y, x.y)
        XCTAssertEqual(back.fingerprint, x.fingerprint)
        XCTAssertEqual(back.source, .npy(xPath: folder + "/x.npy", yPath: folder + "/y.npy"))
        XCTAssertEqual(try NumPyFile.read(folder + "/x.npy").shape, [6, 1, 32, 32])
        XCTAssertEqual(try decode(Data(NumPyFile.encode(Tensor(shape: [4], data: [1, 2, 3, 4]))).base64EncodedString()).shape, [4])
        XCTAssertEqual(try decode(Data(NumPyFile.encode(Tensor(shape: [], data: [7]))).base64EncodedString()), Tensor(shape: [], data: [7]))
    }
}
