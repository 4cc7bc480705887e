import CHDF5
import Foundation

/// A failure reported by libhdf5 or found by this layer, with a message fit for a user.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }

    public init(_ message: String) { self.message = message }

    /// The innermost message on libhdf5's error stack (its most specific), prefixed by what
    /// we were doing. Called right after a failing libhdf5 call, inside the library lock.
    static func fromStack(_ action: String) -> HDF5Error {
        final class Collector { var messages: [String] = [] }
        let collector = Collector()
        let unmanaged = Unmanaged.passUnretained(collector)
        _ = H5Ewalk2(relapse_H5E_DEFAULT(), H5E_WALK_UPWARD, { _, descriptor, context in
            if let descriptor, let context, let text = descriptor.pointee.desc {
                let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
                collector.messages.append(String(cString: text))
            }
            return 0
        }, unmanaged.toOpaque())
        H5Eclear2(relapse_H5E_DEFAULT())
        guard let detail = collector.messages.first, !detail.isEmpty else { return HDF5Error(action) }
        return HDF5Error("\(action): \(oneLine(detail))")
    }

    /// libhdf5's low-level I/O errors span lines and list buffers, offsets and times; the
    /// operating system's reason ("No space left on device") is what a user needs.
    static func oneLine(_ detail: String) -> String {
        if let start = detail.range(of: "error message = '"),
           let end = detail[start.upperBound...].firstIndex(of: "'") {
            let reason = String(detail[start.upperBound..<end])
            let what = detail.hasPrefix("file write failed") ? "write failed: " : detail.hasPrefix("file read failed") ? "read failed: " : ""
            return what + reason
        }
        return detail.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
