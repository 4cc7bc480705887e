/// `out[i] = a[i] + b[i]` for `count` floats, in pieces over the cores (element by element, so
/// the result never depends on the split). `out` may be `a` (an in-place sum). `relu`: then
/// max(sum, 0), with Swift's `max` as `ActivationKernel.relu` (a fused ReLU after an Add).
public func addElementwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
                           relu: Bool = false) {
    let piece = 1 << 15, pieces = (count + piece - 1) / piece
    let outAddress = Int(bitPattern: out)
    parallelFor(pieces, minimumWorkPerItem: piece) { p in
        let out = UnsafeMutablePointer<Float>(bitPattern: outAddress)!
        let start = p * piece, n = min(count, start + piece) - start
        var i = 0
        while i + 16 <= n {
            let x = UnsafeRawPointer(a + start + i).loadUnaligned(as: SIMD16<Float>.self)
            let y = UnsafeRawPointer(b + start + i).loadUnaligned(as: SIMD16<Float>.self)
            var sum = x + y
            if relu { sum.replace(with: SIMD16<Float>(), where: SIMD16<Float>() .>= sum) }
            UnsafeMutableRawPointer(out + start + i).storeBytes(of: sum, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            let sum = a[start + i] + b[start + i]
            out[start + i] = relu ? max(sum, 0) : sum
            i += 1
        }
    }
}
