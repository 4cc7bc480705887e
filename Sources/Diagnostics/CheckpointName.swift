import Foundation

/// The epoch a checkpoint's file name holds: Relapse's `epoch-0007.h5`, and the names Keras's
/// ModelCheckpoint makes from a pattern, such as `weights.05-0.42.h5` or `model_epoch_12.h5`.
public enum CheckpointName {
    /// A number right after "epoch" wins (`model_v2_epoch_12` is epoch 12); otherwise the first
    /// number, which is where `{epoch}` sits in Keras's documented patterns. Hidden files
    /// (Relapse's half-written temporaries) and names without a number are not checkpoints.
    public static func epoch(of fileName: String) -> Int? {
        guard !fileName.hasPrefix("."), isHDF5(fileName) else { return nil }
        let stem = (fileName as NSString).deletingPathExtension.lowercased()
        if let range = stem.range(of: #"epoch[^0-9a-z]*[0-9]+"#, options: .regularExpression) {
            return Int(stem[range].filter(\.isNumber))
        }
        guard let range = stem.range(of: #"[0-9]+"#, options: .regularExpression) else { return nil }
        return Int(stem[range])
    }

    /// Relapse's stopped state, `epoch-0001-nan-batch-0002.h5`: written by --stop-on-nan in
    /// the middle of epoch 1, so it belongs to epoch 1 (where the NaN is) but is not the end of
    /// it, and it holds no run state to resume from.
    public static func isStoppedState(_ fileName: String) -> Bool {
        let stem = (fileName as NSString).deletingPathExtension.lowercased()
        return stem.range(of: #"^epoch-[0-9]+-nan-batch-[0-9]+$"#, options: .regularExpression) != nil
    }

    static func isHDF5(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") || lower.hasSuffix(".keras")
    }
}
