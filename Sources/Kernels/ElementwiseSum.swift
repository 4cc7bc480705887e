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

/// `dx[i] = y[i] > 0 ? (g0[i] + g1[i]) + ... : 0`: a ReLU's gradient (TensorFlow's ReluGrad
/// select on its output `y`, as `ActivationKernel.relu`) of gradients that met at its output,
/// summed in the order given in the same pass, so the same bits as summing them apart first.
public func reluGradientOfSum(output y: UnsafePointer<Float>, gradients: [UnsafePointer<Float>], into dx: UnsafeMutablePointer<Float>,
                              count: Int) {
    precondition(gradients.count >= 2, "a sum of at least two gradients")
    let piece = 1 << 15, pieces = (count + piece - 1) / piece
    let dxAddress = Int(bitPattern: dx)
    parallelFor(pieces, minimumWorkPerItem: piece) { p in
        let dx = UnsafeMutablePointer<Float>(bitPattern: dxAddress)!
        let start = p * piece, n = min(count, start + piece) - start
        var i = start
        while i + 16 <= start + n {
            var sum = UnsafeRawPointer(gradients[0] + i).loadUnaligned(as: SIMD16<Float>.self)
            for g in gradients.dropFirst() { sum += UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self) }
            let out = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: SIMD16<Float>().replacing(with: sum, where: out .> 0), as: SIMD16<Float>.self)
            i += 16
        }
        while i < start + n {
            var sum = gradients[0][i]
            for g in gradients.dropFirst() { sum += g[i] }
            dx[i] = y[i] > 0 ? sum : 0
            i += 1
        }
    }
}
