/// Where the channel axis of an image sits, as Keras's `data_format` says.
public enum ImageLayout: String, Sendable, Equatable, CaseIterable {
    /// (n, channels, height, width): the seed model's layout.
    case channelsFirst = "channels_first"
    /// (n, height, width, channels): Keras's default.
    case channelsLast = "channels_last"

    /// The per-sample shape of a `height` x `width` image with `channels` channels.
    public func sampleShape(height: Int, width: Int, channels: Int = 1) -> [Int] {
        switch self {
        case .channelsFirst: return [channels, height, width]
        case .channelsLast: return [height, width, channels]
        }
    }

    /// The layout a model's per-sample input shape implies for single-channel images:
    /// (1, h, w) is channels_first, (h, w, 1) channels_last; nil when it is neither.
    public static func forSingleChannel(inputShape: [Int]) -> ImageLayout? {
        guard inputShape.count == 3 else { return nil }
        if inputShape[0] == 1 { return .channelsFirst }
        if inputShape[2] == 1 { return .channelsLast }
        return nil
    }
}
