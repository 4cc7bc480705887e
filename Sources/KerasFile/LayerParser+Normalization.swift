/// BatchNormalization, the activation layers, Rescaling and Normalization, read key by key.
extension LayerConfigReader {
    mutating func readNormalizationOrActivationLayer() throws -> LayerKind {
        switch className {
        case "BatchNormalization": return .batchNormalization(try readBatchNormalization())
        case "ReLU":
            let slope = try number("negative_slope", default: 0)
            let maxValue = try optionalNumber("max_value")
            if let m = maxValue, m < 0 { throw fail("max_value", "must be >= 0") }
            return .activationLayer(.relu(negativeSlope: slope, maxValue: maxValue, threshold: try number("threshold", default: 0)))
        case "LeakyReLU":
            // tf.keras and Keras 2 write `alpha`; Keras 3 writes `negative_slope` (and still takes `alpha`).
            let alpha = try optionalNumber("alpha")
            let slope = try optionalNumber("negative_slope")
            return .activationLayer(.leakyRelu(slope: slope ?? alpha ?? 0.3))
        case "ELU":
            // Keras 3's ELU does not write its alpha (get_config has none): a reloaded one has 1.
            return .activationLayer(.elu(alpha: try number("alpha", default: 1)))
        case "Softmax":
            guard let item = keys.take("axis"), !item.isNull else { return .activationLayer(.softmax(axis: -1)) }
            if let list = item.arrayValue {
                guard list.count == 1, let axis = list[0].intValue else {
                    refuse("axis", "is not supported (Relapse computes a softmax over one axis)")
                    return .activationLayer(.softmax(axis: -1))
                }
                return .activationLayer(.softmax(axis: axis))
            }
            guard let axis = item.intValue, axis != 0 else { throw fail("axis", "must be a non-zero integer (0 is the batch)") }
            return .activationLayer(.softmax(axis: axis))
        case "PReLU":
            var shared: [Int] = []
            if let item = keys.take("shared_axes"), !item.isNull {
                if let n = item.intValue { shared = [n] } else if let list = item.arrayValue {
                    shared = try list.map { guard let n = $0.intValue, n > 0 else { throw fail("shared_axes", "must hold positive axes") }; return n }
                } else { throw fail("shared_axes", "must be an axis or a list of axes") }
            }
            try readWeightSettings(weights: ["alpha"])
            return .prelu(sharedAxes: shared)
        case "Rescaling":
            let scale = keys.take("scale"), offset = keys.take("offset")
            guard let s = scale?.doubleValue ?? (scale == nil || scale!.isNull ? 1 : nil) else {
                refuse("scale", "is not supported (Relapse computes one number; per-channel scales are not)")
                return .rescaling(scale: 1, offset: 0)
            }
            guard let o = offset?.doubleValue ?? (offset == nil || offset!.isNull ? 0 : nil) else {
                refuse("offset", "is not supported (Relapse computes one number; per-channel offsets are not)")
                return .rescaling(scale: 1, offset: 0)
            }
            return .rescaling(scale: s, offset: o)
        case "Normalization":
            return .normalization(try readNormalization())
        default:
            fatalError("readNormalizationOrActivationLayer called for \(className)")
        }
    }

    private mutating func readBatchNormalization() throws -> BatchNormalizationSpec {
        var spec = BatchNormalizationSpec(generation: generation)
        if let item = keys.take("axis"), !item.isNull {
            // tf.keras writes the axis resolved as a list ([3]); Keras 2.2 and 3 as an integer.
            let list = item.arrayValue ?? [item]
            if list.count != 1 {
                refuse("axis", "is not supported (Relapse normalises over one axis)")
            } else if let axis = list[0].intValue, axis != 0 {
                spec.axis = axis
            } else {
                throw fail("axis", "must be a non-zero integer (0 is the batch)")
            }
        }
        spec.momentum = try number("momentum", default: 0.99)
        spec.epsilon = try number("epsilon", default: 1e-3)
        guard spec.epsilon > 0 else { throw fail("epsilon", "must be positive") }
        spec.center = try bool("center", default: true)
        spec.scale = try bool("scale", default: true)
        try readWeightSettings(weights: ["gamma", "beta"])
        // The moving statistics' first values: a model read from a file has them; a
        // `to_json()` architecture gets them from `Network.initializeWeights`, which reads these.
        keys.accept("moving_mean_initializer", "moving_variance_initializer")
        if let value = keys.take("renorm"), !value.isNull, value != .bool(false) {
            refuse("renorm", "is not supported (batch renormalization)")
        } else {
            // Read only with renorm, which is off.
            keys.accept("renorm_clipping", "renorm_momentum")
        }
        if let value = keys.take("virtual_batch_size"), !value.isNull { refuse("virtual_batch_size", "is not supported (ghost batches)") }
        if let value = keys.take("adjustment"), !value.isNull { refuse("adjustment") }
        if let value = keys.take("fused"), !value.isNull {
            guard let flag = value.boolValue else { throw fail("fused", "must be true, false or null") }
            spec.fused = flag
        }
        // On one device the all-reduce sums one replica's statistics: the same batch statistics
        // (Keras 3 computes them as E[x^2] - E[x]^2, which Relapse's double-precision sums equal
        // to float32 rounding). tf.keras turns its fused kernel off for it, which changes how the
        // moving variance is updated: that is honoured.
        if let value = keys.take("synchronized"), !value.isNull {
            guard let flag = value.boolValue else { throw fail("synchronized", "must be true or false") }
            if flag && generation == .tfKeras { spec.fused = false }
        }
        return spec
    }

    private mutating func readNormalization() throws -> NormalizationSpec {
        var axes: [Int] = [-1]
        if let item = keys.take("axis") {
            if item.isNull { axes = [] } else if let n = item.intValue { axes = [n] } else if let list = item.arrayValue {
                axes = try list.map { guard let n = $0.intValue else { throw fail("axis", "must hold integers") }; return n }
            } else { throw fail("axis", "must be an integer, a list or null") }
        }
        if axes.contains(0) { refuse("axis", "is not supported (a mean per batch position)") }
        let invert = try bool("invert", default: false)
        func values(_ key: String) throws -> [Double]? {
            guard let item = keys.take(key), !item.isNull else { return nil }
            var out: [Double] = []
            func collect(_ v: JSONValue) throws {
                if let d = v.doubleValue { out.append(d) } else if let list = v.arrayValue { try list.forEach(collect) } else {
                    throw fail(key, "must be a number or nested lists of numbers")
                }
            }
            try collect(item)
            return out
        }
        let mean = try values("mean"), variance = try values("variance")
        guard (mean == nil) == (variance == nil) else { throw fail("mean", "and variance must be given together") }
        return NormalizationSpec(axes: axes, invert: invert, mean: mean, variance: variance)
    }

    // MARK: Numbers

    mutating func number(_ key: String, default value: Double) throws -> Double {
        try optionalNumber(key) ?? value
    }

    mutating func optionalNumber(_ key: String) throws -> Double? {
        guard let item = keys.take(key), !item.isNull else { return nil }
        guard let d = item.doubleValue, d.isFinite else { throw fail(key, "must be a finite number") }
        return d
    }
}
