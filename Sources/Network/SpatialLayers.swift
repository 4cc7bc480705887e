import KerasFile
import Kernels

/// The layer object of a `LayerKind.spatial` call (issue 13's convolutions, pooling and
/// reshaping layers; KerasFile's SpatialLayers.swift reads their configs).
func makeSpatialLayer(_ kind: SpatialLayer, spec: LayerSpec, inputShape shape: [Int], store: ParameterStore) throws -> NetworkLayer {
    let name = spec.name
    switch kind {
    case .depthwiseConv2D(let c): return try DepthwiseConv2DLayer(name: name, spec: c, inputShape: shape, store: store)
    case .separableConv2D(let c): return try SeparableConv2DLayer(name: name, spec: c, inputShape: shape, store: store)
    case .conv2DTranspose(let c): return try Conv2DTransposeLayer(name: name, spec: c, inputShape: shape, store: store)
    case .conv1D(let c): return try makeConv1DLayer(name: name, spec: c, inputShape: shape, store: store)
    case .pooling(let p): return try PoolingLayer(name: name, spec: p, inputShape: shape)
    case .globalPooling(let p): return try GlobalPoolingLayer(name: name, spec: p, inputShape: shape)
    case .zeroPadding2D(let edges, let format): return try EdgeLayer(name: name, edges: edges, pad: true, dataFormat: format, inputShape: shape)
    case .cropping2D(let edges, let format): return try EdgeLayer(name: name, edges: edges, pad: false, dataFormat: format, inputShape: shape)
    case .upSampling2D(let size, let format, let bilinear):
        return try UpSampling2DLayer(name: name, size: size, dataFormat: format, bilinear: bilinear, inputShape: shape)
    case .permute(let dims): return try PermuteLayer(name: name, dims: dims, inputShape: shape)
    case .spatialDropout2D(let rate, let format):
        guard shape.count == 3 else { throw NetworkError(layer: name, "SpatialDropout2D needs a rank-3 input per sample, got \(describeShape(shape))") }
        // tf-keras: noise (batch, 1, 1, channels), or (batch, channels, 1, 1) under channels_first.
        let noise: [Int?] = format == .channelsFirst ? [nil, nil, 1, 1] : [nil, 1, 1, nil]
        return try DropoutLayer(name: name, rate: rate, config: .object([]), inputShape: shape, noiseShape: noise)
    }
}
