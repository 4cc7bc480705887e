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
        // tf_keras/src/optimizers/optimizer.py and keras/src/optimizers/base_optimizer.py
        // `_clip_gradients`: the first of clipnorm, global_clipnorm, clipvalue that is set and
        // positive wins (Keras 3 refuses more than one; tf-keras ignores clipvalue beside a norm).
        // clipnorm is tf.clip_by_norm per gradient: g * c / max(norm, c).
        if let c = clipnorm, c > 0 {
            let cf = Float(c)
            return grads.map { g in
                let norm = Float(globalNorm([g]))
                let bound = max(norm, cf)
                return Tensor(shape: g.shape, data: g.data.map { ($0 * cf) / bound })
            }
        }
        if let c = globalClipnorm, c > 0 {
            // tf.clip_by_global_norm (tf-keras): clip_norm * min(1 / norm, 1 / clip_norm) with
            // clip_norm a float32 tensor; Keras 3's clip_by_global_norm computes 1.0 / clip_norm
            // in Python's double. Both add (norm - norm), so an infinite or NaN norm gives NaN.
            let norm = Float(globalNorm(grads))
            let cf = Float(c)
            let inverse = flavor == .keras3 ? Float(1 / c) : 1 / cf
            let scale = cf * min(1 / norm, inverse) + (norm - norm)
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
