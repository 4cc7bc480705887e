import KerasFile
import Kernels

extension Regularizer {
    /// `l1 * sum(|x|) + l2 * sum(x^2)` in float32 (the sums accumulated in double, which is
    /// within TensorFlow's own reduction-order noise of its float32 `reduce_sum`).
    func penalty(_ x: Tensor) -> Float {
        var absolute = 0.0, square = 0.0
        for v in x.data {
            absolute += Double(abs(v))
            square += Double(v) * Double(v)
        }
        var total: Float = 0
        if l1 != 0 { total += l1 * Float(absolute) }
        if l2 != 0 { total += l2 * Float(square) }
        return total
    }

    /// Adds `scale * d(penalty)/dx` to `gradient`: `l1 * sign(x) + l2 * (2 * x)`, sign(0) = 0 as
    /// TensorFlow's gradient of `abs` (and `2 * x` before `l2`, as its gradient of `square`).
    func addGradient(of x: Tensor, scale: Float, to gradient: inout Tensor) {
        let l1 = self.l1 * scale, l2 = self.l2 * scale
        let n = gradient.count
        precondition(x.count == n)
        gradient.withMutablePointer { g in
            x.withPointer { x in
                for i in 0..<n {
                    let v = x[i]
                    var d: Float = 0
                    if l1 != 0 { d += l1 * (v > 0 ? 1 : (v < 0 ? -1 : 0)) }
                    if l2 != 0 { d += l2 * (2 * v) }
                    g[i] += d
                }
            }
        }
    }
}

extension WeightConstraint {
    /// The same constraint with negative axes counted from the end of a weight of `rank` axes.
    func resolved(rank: Int, weight: Parameter) throws -> WeightConstraint {
        func fix(_ axes: [Int]) throws -> [Int] {
            try axes.map { axis in
                let a = axis < 0 ? axis + rank : axis
                guard (0..<rank).contains(a) else {
                    throw NetworkError(layer: weight.layerName, "\(weight.weightName)_constraint axis \(axis) does not fit a weight of rank \(rank)")
                }
                return a
            }
        }
        switch self {
        case .maxNorm(let m, let axes): return .maxNorm(maxValue: m, axes: try fix(axes))
        case .nonNeg: return .nonNeg
        case .unitNorm(let axes): return .unitNorm(axes: try fix(axes))
        case .minMaxNorm(let lo, let hi, let rate, let axes): return .minMaxNorm(minValue: lo, maxValue: hi, rate: rate, axes: try fix(axes))
        }
    }

    /// The projected weight, as Keras computes it after an update (`K.epsilon()` = 1e-7):
    /// MaxNorm `w * (clip(n, 0, max) / (eps + n))`, UnitNorm `w / (eps + n)`, MinMaxNorm
    /// `w * ((rate * clip(n, min, max) + (1 - rate) * n) / (eps + n))`, NonNeg `w * (w >= 0)`,
    /// n the L2 norm over `axes` (keepdims).
    func apply(to w: inout Tensor) {
        let epsilon: Float = 1e-7
        switch self {
        case .nonNeg:
            for i in w.data.indices where !(w.data[i] >= 0) { w.data[i] = w.data[i] * 0 }
        case .maxNorm(let maxValue, let axes):
            scaleByNorms(&w, axes: axes) { n in min(max(n, 0), maxValue) / (epsilon + n) }
        case .unitNorm(let axes):
            // Keras divides: w / (eps + n), not w * (1 / (eps + n)).
            let norms = Self.norms(w, axes: axes)
            for i in w.data.indices { w.data[i] = w.data[i] / (epsilon + norms.values[norms.group[i]]) }
        case .minMaxNorm(let lo, let hi, let rate, let axes):
            scaleByNorms(&w, axes: axes) { n in (rate * min(max(n, lo), hi) + (1 - rate) * n) / (epsilon + n) }
        }
    }

    private func scaleByNorms(_ w: inout Tensor, axes: [Int], factor: (Float) -> Float) {
        let norms = Self.norms(w, axes: axes)
        let factors = norms.values.map(factor)
        for i in w.data.indices { w.data[i] = w.data[i] * factors[norms.group[i]] }
    }

    /// L2 norms over `axes` (float32 sqrt of a double-accumulated sum of squares), and for each
    /// element the index of the norm it belongs to.
    static func norms(_ w: Tensor, axes: [Int]) -> (values: [Float], group: [Int]) {
        // Each element's group: its index over the kept axes, row-major.
        let kept = w.shape.indices.map { axes.contains($0) ? 1 : w.shape[$0] }
        let groups = kept.reduce(1, *)
        let group = broadcastIndex(from: w.shape, to: kept)
        var sums = [Double](repeating: 0, count: groups)
        for i in 0..<w.count { sums[group[i]] += Double(w.data[i]) * Double(w.data[i]) }
        return (sums.map { Float($0).squareRoot() }, group)
    }
}

extension Network {
    /// Keras's regularization losses for the last forward pass: every weight regularizer on the
    /// current weights, then each activity regularizer on its layer's output (per sample unless
    /// `activityPenaltyPerSample` is off), in layer order. Frozen layers' penalties count too, as
    /// in Keras (`model.losses` holds them whatever `trainable` says).
    public func regularizationPenalty() -> Float {
        var total: Float = 0
        for v in variables {
            if let r = v.regularizer { total += r.penalty(v.value) }
        }
        for (n, r) in activityRegularizers.sorted(by: { $0.key < $1.key }) where graph.order.contains(n) {
            let output = graph.nodes[n].layer.base.output
            var p = r.penalty(output)
            if activityPenaltyPerSample { p = p / Float(output.samples) }
            total += p
        }
        return total
    }

    /// Whether any weight or activity regularizer is set.
    public var hasRegularization: Bool {
        !activityRegularizers.isEmpty || variables.contains { $0.regularizer != nil }
    }

    /// Adds each weight regularizer's gradient to its weight's gradient (after `backward`).
    public func addWeightRegularizationGradients() {
        for v in variables {
            guard let r = v.regularizer else { continue }
            r.addGradient(of: v.value, scale: 1, to: &v.gradient)
        }
    }

    /// The activity penalty's gradient w.r.t. node `n`'s output, added to `gradient`.
    func addActivityGradient(node n: Int, to gradient: inout Tensor) {
        guard let r = activityRegularizers[n] else { return }
        let output = graph.nodes[n].layer.base.output
        r.addGradient(of: output, scale: activityPenaltyPerSample ? 1 / Float(output.samples) : 1, to: &gradient)
    }

    /// Projects every trainable weight that has a constraint, as Keras does after each update.
    public func applyConstraints() {
        for v in trainableVariables {
            guard let c = v.constraint else { continue }
            c.apply(to: &v.value)
        }
    }
}
