import Foundation
import Kernels

extension Optimizer {
    /// Gradients after clipnorm / global_clipnorm / clipvalue, as the flavor applies them.
    func clippedGradients(_ grads: [Tensor]) -> [Tensor] {
        if flavor == .keras22 {
            // Keras 2.2's clipnorm uses the norm of ALL gradients; clipvalue applies as well.
            var out = grads
            if let c = clipnorm, c > 0 {
                let norm = Float(globalNorm(grads))
                let cf = Float(c)
                if norm >= cf { out = out.map { scaled($0, cf / norm) } }
            }
            if let c = clipvalue, c > 0 { out = out.map { clamped($0, Float(c)) } }
            return out
        }
        // tf.keras and Keras 3: the first one set wins.
        if let c = clipnorm, c > 0 {
            let cf = Float(c)
            return grads.map { g in
                let norm = Float(globalNorm([g]))
                let bound = max(norm, cf)
                return Tensor(shape: g.shape, data: g.data.map { ($0 * cf) / bound })
            }
        }
        if let c = globalClipnorm, c > 0 {
            let norm = Float(globalNorm(grads))
            let cf = Float(c)
            let scale = cf * min(1 / norm, 1 / cf)
            return grads.map { scaled($0, scale) }
        }
        if let c = clipvalue, c > 0 { return grads.map { clamped($0, Float(c)) } }
        return grads
    }

    private func globalNorm(_ grads: [Tensor]) -> Double {
        grads.reduce(0.0) { sum, g in g.data.reduce(sum) { $0 + Double($1) * Double($1) } }.squareRoot()
    }

    private func scaled(_ g: Tensor, _ s: Float) -> Tensor {
        Tensor(shape: g.shape, data: g.data.map { $0 * s })
    }

    private func clamped(_ g: Tensor, _ c: Float) -> Tensor {
        Tensor(shape: g.shape, data: g.data.map { min(max($0, -c), c) })
    }
}
