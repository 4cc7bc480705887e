import Kernels

/// The data side of Kernels' `ImageLayout`: where a one-channel image's channel axis goes.
extension ImageLayout {
    /// The per-sample shape of a `height` x `width` image with `channels` channels.
    public func sampleShape(height: Int, width: Int, channels: Int = 1) -> [Int] {
        switch self {
        case .nchw: return [channels, height, width]
        case .nhwc: return [height, width, channels]
        }
    }

    /// The layout a model's per-sample input shape implies for single-channel images:
    /// (1, h, w) is channels_first, (h, w, 1) channels_last; nil when it is neither.
    public static func forSingleChannel(inputShape: [Int]) -> ImageLayout? {
        guard inputShape.count == 3 else { return nil }
        if inputShape[0] == 1 { return .nchw }
        if inputShape[2] == 1 { return .nhwc }
        return nil
    }
}
