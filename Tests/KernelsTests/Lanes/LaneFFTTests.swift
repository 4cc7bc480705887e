import ReferenceMath
import XCTest
@testable import Kernels

/// The lane FFTs against a Double DFT, lane by lane: every lane is its own signal.
final class LaneFFTTests: XCTestCase {
    /// Sixteen real (rows, columns) signals, lane-interleaved, the first `nonzeroRows` rows random.
    private func signals(rows: Int, columns: Int, nonzeroRows: Int, seed: UInt64) -> [Float] {
        var grid = randomValues(rows * columns * 16, seed: seed).map(Float.init)
        for i in (nonzeroRows * columns * 16)..<grid.count { grid[i] = 0 }
        return grid
    }

    func testForwardMatchesTheDFTOfEachLane() {
        for (rows, columns, nonzero) in [(4, 4, 4), (8, 16, 5), (32, 32, 17), (16, 8, 16), (64, 4, 9), (4, 64, 4)] {
            let fft = RealFFT2D(rows: rows, columns: columns)
            let grid = signals(rows: rows, columns: columns, nonzeroRows: nonzero, seed: UInt64(rows * columns))
            let F = fft.frequencies, K = fft.halfColumns
            var spectrum = [Lanes](repeating: Lanes(), count: 2 * F), scratch = [Lanes](repeating: Lanes(), count: fft.scratchLanes)
            grid.withUnsafeBytes { input in
                spectrum.withUnsafeMutableBufferPointer { s in
                    scratch.withUnsafeMutableBufferPointer { fft.forward(nonzeroRows: nonzero, input: input.bindMemory(to: Lanes.self).baseAddress!,
                                                                         re: s.baseAddress!, im: s.baseAddress! + F, scratch: $0.baseAddress!) }
                }
            }
            var got: [Double] = [], want: [Double] = []
            for l in [0, 7, 15] {
                for p in 0..<rows {
                    for q in 0..<K {
                        var re = 0.0, im = 0.0
                        for r in 0..<rows {
                            for c in 0..<columns {
                                let angle = -2 * Double.pi * (Double(p * r) / Double(rows) + Double(q * c) / Double(columns))
                                let v = Double(grid[(r * columns + c) * 16 + l])
                                re += v * cos(angle); im += v * sin(angle)
                            }
                        }
                        want += [re, im]
                        got += [Double(spectrum[p * K + q][l]), Double(spectrum[F + p * K + q][l])]
                    }
                }
            }
            XCTAssertLessThan(relativeError(got, want), 1e-6, "\(rows) x \(columns)")
        }
    }

    func testInverseUndoesForwardUpToTheGridSize() {
        for (rows, columns, out) in [(4, 8, 4), (32, 32, 17), (16, 4, 3)] {
            let fft = RealFFT2D(rows: rows, columns: columns)
            let grid = signals(rows: rows, columns: columns, nonzeroRows: rows, seed: 5)
            let F = fft.frequencies
            var spectrum = [Lanes](repeating: Lanes(), count: 2 * F), scratch = [Lanes](repeating: Lanes(), count: fft.scratchLanes)
            var back = [Lanes](repeating: Lanes(), count: fft.gridLanes)
            grid.withUnsafeBytes { input in
                spectrum.withUnsafeMutableBufferPointer { s in
                    scratch.withUnsafeMutableBufferPointer { fft.forward(nonzeroRows: rows, input: input.bindMemory(to: Lanes.self).baseAddress!,
                                                                         re: s.baseAddress!, im: s.baseAddress! + F, scratch: $0.baseAddress!) }
                    back.withUnsafeMutableBufferPointer { fft.inverse(outputRows: out, re: s.baseAddress!, im: s.baseAddress! + F,
                                                                      rowsBitReversed: false, output: $0.baseAddress!) }
                }
            }
            let n = Float(rows * columns)
            let kept = out * columns
            let got = back.prefix(kept).flatMap { v in (0..<16).map { Double(v[$0] / n) } }
            let want = grid.prefix(kept * 16).map(Double.init)
            XCTAssertLessThan(relativeError(got, want), 1e-6, "\(rows) x \(columns)")
        }
    }
}
