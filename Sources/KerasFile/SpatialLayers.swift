/// Keras's spatial layers beyond Conv2D and MaxPooling2D (issue 13): the other convolutions,
/// pooling, padding, cropping, resizing, Permute and SpatialDropout2D. One `LayerKind.spatial`
/// case holds them; the sizes are lists (one entry per spatial axis: 1 for the 1-D layers).
public enum SpatialLayer: Equatable, Sendable {
    case depthwiseConv2D(ConvolutionSpec)
    case separableConv2D(ConvolutionSpec)
    case conv2DTranspose(ConvolutionSpec)
    case conv1D(ConvolutionSpec)
    /// AveragePooling2D, AveragePooling1D, MaxPooling1D (MaxPooling2D is `LayerKind.maxPooling2D`).
    case pooling(PoolingSpec)
    case globalPooling(GlobalPoolingSpec)
    /// (top, bottom, left, right).
    case zeroPadding2D(padding: [Int], dataFormat: DataFormat)
    /// (top, bottom, left, right).
    case cropping2D(cropping: [Int], dataFormat: DataFormat)
    case upSampling2D(size: [Int], dataFormat: DataFormat, bilinear: Bool)
    /// Keras's dims: a permutation of 1...rank (the batch is 0).
    case permute(dims: [Int])
    case spatialDropout2D(rate: Double, dataFormat: DataFormat)

    /// Keras's class names these cases read.
    public static let classNames: Set<String> = [
        "DepthwiseConv2D", "SeparableConv2D", "SeparableConvolution2D", "Conv2DTranspose", "Convolution2DTranspose",
        "Conv1D", "Convolution1D", "AveragePooling2D", "AvgPool2D", "AveragePooling1D", "AvgPool1D", "MaxPooling1D", "MaxPool1D",
        "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalAveragePooling1D", "GlobalAvgPool1D",
        "GlobalMaxPooling2D", "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPool1D",
        "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Permute", "SpatialDropout2D",
    ]

    /// Keras's weight names, in its order.
    public var weightNames: [String] {
        switch self {
        case .depthwiseConv2D(let c): return ["depthwise_kernel"] + (c.useBias ? ["bias"] : [])
        case .separableConv2D(let c): return ["depthwise_kernel", "pointwise_kernel"] + (c.useBias ? ["bias"] : [])
        case .conv2DTranspose(let c), .conv1D(let c): return ["kernel"] + (c.useBias ? ["bias"] : [])
        default: return []
        }
    }
}

/// A convolution's settings; lists hold one entry per spatial axis.
public struct ConvolutionSpec: Equatable, Sendable {
    /// Output channels (DepthwiseConv2D: 0, its output has channels * depthMultiplier).
    public var filters: Int
    public var kernelSize: [Int]
    public var strides: [Int]
    public var padding: Padding
    /// Conv1D's `causal` padding: dilation * (kernel - 1) zeros before the sequence, none after.
    public var causal: Bool
    public var dataFormat: DataFormat
    public var dilationRate: [Int]
    public var activation: ActivationFunction
    public var useBias: Bool
    public var groups: Int
    /// DepthwiseConv2D, SeparableConv2D.
    public var depthMultiplier: Int
    /// Conv2DTranspose (nil: Keras infers the output size).
    public var outputPadding: [Int]?

    public init(filters: Int, kernelSize: [Int], strides: [Int]? = nil, padding: Padding = .valid, causal: Bool = false,
                dataFormat: DataFormat = .channelsLast, dilationRate: [Int]? = nil, activation: ActivationFunction = .linear,
                useBias: Bool = true, groups: Int = 1, depthMultiplier: Int = 1, outputPadding: [Int]? = nil) {
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides ?? kernelSize.map { _ in 1 }
        self.padding = padding
        self.causal = causal
        self.dataFormat = dataFormat
        self.dilationRate = dilationRate ?? kernelSize.map { _ in 1 }
        self.activation = activation
        self.useBias = useBias
        self.groups = groups
        self.depthMultiplier = depthMultiplier
        self.outputPadding = outputPadding
    }
}

public struct PoolingSpec: Equatable, Sendable {
    public var average: Bool
    public var poolSize: [Int]
    public var strides: [Int]
    public var padding: Padding
    public var dataFormat: DataFormat

    public init(average: Bool, poolSize: [Int], strides: [Int]? = nil, padding: Padding = .valid, dataFormat: DataFormat = .channelsLast) {
        self.average = average
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
        self.dataFormat = dataFormat
    }
}

public struct GlobalPoolingSpec: Equatable, Sendable {
    public var average: Bool
    /// Spatial axes: 1 or 2.
    public var rank: Int
    public var dataFormat: DataFormat
    public var keepdims: Bool

    public init(average: Bool, rank: Int, dataFormat: DataFormat = .channelsLast, keepdims: Bool = false) {
        self.average = average
        self.rank = rank
        self.dataFormat = dataFormat
        self.keepdims = keepdims
    }
}

extension LayerConfigReader {
    /// The `LayerKind.spatial` classes, key by key.
    mutating func readSpatial() throws -> SpatialLayer {
        switch className {
        case "DepthwiseConv2D":
            var spec = try convolution(rank: 2, filters: 0)
            spec.depthMultiplier = try positiveInt("depth_multiplier", default: 1)
            try readWeightSettings(weights: ["depthwise", "bias"], names: ["depthwise": "depthwise_kernel"])
            refuseGroups(spec)
            return .depthwiseConv2D(spec)
        case "SeparableConv2D", "SeparableConvolution2D":
            var spec = try convolution(rank: 2, filters: try int("filters"))
            spec.depthMultiplier = try positiveInt("depth_multiplier", default: 1)
            // tf-keras writes kernel_* keys its SeparableConv2D never uses (base Conv's): their
            // values cannot reach any weight.
            keys.accept("kernel_initializer", "kernel_regularizer", "kernel_constraint")
            try readWeightSettings(weights: ["depthwise", "pointwise", "bias"],
                                   names: ["depthwise": "depthwise_kernel", "pointwise": "pointwise_kernel"])
            refuseGroups(spec)
            return .separableConv2D(spec)
        case "Conv2DTranspose", "Convolution2DTranspose":
            var spec = try convolution(rank: 2, filters: try int("filters"))
            if let item = keys.take("output_padding"), !item.isNull {
                spec.outputPadding = try sizes(item, key: "output_padding", count: 2, allowZero: true)
            }
            try readWeightSettings(weights: ["kernel", "bias"])
            refuseGroups(spec)
            return .conv2DTranspose(spec)
        case "Conv1D", "Convolution1D":
            let spec = try convolution(rank: 1, filters: try int("filters"), causalAllowed: true)
            try readWeightSettings(weights: ["kernel", "bias"])
            return .conv1D(spec)
        case "AveragePooling2D", "AvgPool2D", "AveragePooling1D", "AvgPool1D", "MaxPooling1D", "MaxPool1D":
            let rank = className.contains("1D") ? 1 : 2
            let pool = try sizeList("pool_size", count: rank, default: Array(repeating: 2, count: rank))
            return .pooling(PoolingSpec(average: className.hasPrefix("Av"), poolSize: pool,
                                        strides: try sizeList("strides", count: rank, default: pool),
                                        padding: try padding(), dataFormat: try dataFormat()))
        case let name where name.hasPrefix("Global"):
            return .globalPooling(GlobalPoolingSpec(average: name.contains("Av"), rank: name.hasSuffix("1D") ? 1 : 2,
                                                    dataFormat: try dataFormat(), keepdims: try bool("keepdims", default: false)))
        case "ZeroPadding2D":
            return .zeroPadding2D(padding: try edges("padding", default: 1), dataFormat: try dataFormat())
        case "Cropping2D":
            return .cropping2D(cropping: try edges("cropping", default: 0), dataFormat: try dataFormat())
        case "UpSampling2D":
            let size = try sizeList("size", count: 2, default: [2, 2])
            let format = try dataFormat()
            var bilinear = false
            if let item = keys.take("interpolation"), !item.isNull {
                switch item.stringValue {
                case "nearest": break
                case "bilinear": bilinear = true
                default: refuse("interpolation", "is not supported (Relapse computes nearest and bilinear)")
                }
            }
            return .upSampling2D(size: size, dataFormat: format, bilinear: bilinear)
        case "Permute":
            guard let dims = keys.take("dims")?.arrayValue?.compactMap(\.intValue),
                  Set(dims) == Set(1...max(1, dims.count)), !dims.isEmpty else {
                throw fail("dims", "must be a permutation of 1...rank")
            }
            return .permute(dims: dims)
        case "SpatialDropout2D":
            guard let rate = keys.take("rate")?.doubleValue, (0..<1).contains(rate) else { throw fail("rate", "must be in [0, 1)") }
            // tf-keras writes noise_shape but its SpatialDropout2D always uses (batch, 1, 1,
            // channels); a seed cannot reproduce TensorFlow's generator, so masks come from the
            // network's own (as Dropout's do).
            keys.accept("noise_shape", "seed")
            // tf-keras does not save data_format: reloading it gives channels_last, as here.
            return .spatialDropout2D(rate: rate, dataFormat: try dataFormat())
        default:
            throw fail("class_name", "is not a spatial layer")
        }
    }

    /// The keys every convolution class shares (rank 1 or 2).
    private mutating func convolution(rank: Int, filters: Int, causalAllowed: Bool = false) throws -> ConvolutionSpec {
        let kernel = try sizeList("kernel_size", count: rank, default: nil)
        var causal = false
        var padding = Padding.valid
        if let text = keys.take("padding")?.stringValue?.lowercased() {
            if text == "causal", causalAllowed { causal = true } else if let p = Padding(rawValue: text) { padding = p } else {
                throw fail("padding", "'\(text)' is not \(causalAllowed ? "valid, same or causal" : "valid or same")")
            }
        }
        return ConvolutionSpec(
            filters: filters, kernelSize: kernel, strides: try sizeList("strides", count: rank, default: kernel.map { _ in 1 }),
            padding: padding, causal: causal, dataFormat: try dataFormat(),
            dilationRate: try sizeList("dilation_rate", count: rank, default: kernel.map { _ in 1 }),
            activation: try activation("activation", default: .linear), useBias: try bool("use_bias", default: true),
            groups: try positiveInt("groups", default: 1))
    }

    /// tf-keras writes `groups` for every convolution; only Conv1D and Conv2D compute it.
    private mutating func refuseGroups(_ spec: ConvolutionSpec) {
        if spec.groups != 1 { refuse("groups", "is not supported for \(className) (only 1)") }
    }

    /// `count` positive sizes, written as a list or as one number for all.
    private mutating func sizeList(_ key: String, count: Int, default value: [Int]?) throws -> [Int] {
        guard let item = keys.take(key), !item.isNull else {
            if let value { return value }
            throw fail(key, "is missing")
        }
        return try sizes(item, key: key, count: count, allowZero: false)
    }

    private func sizes(_ item: JSONValue, key: String, count: Int, allowZero: Bool) throws -> [Int] {
        let least = allowZero ? 0 : 1
        if let n = item.intValue, n >= least { return Array(repeating: n, count: count) }
        guard let items = item.arrayValue, items.count == count else { throw fail(key, "must be \(count) integer\(count == 1 ? "" : "s")") }
        return try items.map {
            guard let n = $0.intValue, n >= least else { throw fail(key, "must hold integers of at least \(least)") }
            return n
        }
    }

    /// ZeroPadding2D / Cropping2D amounts as (top, bottom, left, right): one number, a
    /// symmetric (height, width) pair, or ((top, bottom), (left, right)).
    private mutating func edges(_ key: String, default value: Int) throws -> [Int] {
        guard let item = keys.take(key), !item.isNull else { return Array(repeating: value, count: 4) }
        if let n = item.intValue, n >= 0 { return [n, n, n, n] }
        guard let items = item.arrayValue, items.count == 2 else { throw fail(key, "must be an integer, 2 integers or 2 pairs") }
        if let a = items[0].intValue, let b = items[1].intValue, a >= 0, b >= 0 { return [a, a, b, b] }
        let pairs = items.compactMap { $0.arrayValue?.compactMap(\.intValue) }
        guard pairs.count == 2, pairs.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0 >= 0 } }) else {
            throw fail(key, "must be an integer, 2 integers or 2 pairs of non-negative integers")
        }
        return pairs[0] + pairs[1]
    }
}

/// Dropout's `noise_shape` as Keras reads it: one entry per input axis including the batch,
/// nil (None) standing for the input's own size. Nil when absent; a malformed value is nil too
/// for the network (the parser refuses it by name first).
public func dropoutNoiseShape(_ value: JSONValue?) -> [Int?]? {
    guard let value, !value.isNull, let items = value.arrayValue, !items.isEmpty else { return nil }
    var shape: [Int?] = []
    for item in items {
        if item.isNull { shape.append(nil); continue }
        guard let n = item.intValue, n > 0 else { return nil }
        shape.append(n)
    }
    return shape
}
