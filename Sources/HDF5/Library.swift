import CHDF5
import Foundation

/// Debian's libhdf5 is built without thread safety, so every call into it goes through this
/// one lock. It is recursive because our wrappers nest (a group opens a dataset that reads).
enum Library {
    private static let lock: NSRecursiveLock = {
        let lock = NSRecursiveLock()
        // libhdf5 prints its error stack to stderr by default; we turn each error into a Swift
        // error with its message instead, so the user sees one clean line.
        // No cleanup at exit: libhdf5 1.10 crashes in H5F__close_cb at exit when a file whose
        // write failed (a full disk) is still in its table. Files we write are closed, flushed
        // and fsynced before they are renamed into place, so there is nothing left to do then.
        H5dont_atexit()
        H5open()
        H5Eset_auto2(relapse_H5E_DEFAULT(), nil, nil)
        return lock
    }()

    static func run<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        libraryDepth += 1
        defer {
            libraryDepth -= 1
            lock.unlock()
        }
        return try body()
    }

    /// Runs a libhdf5 call that returns a negative value on failure.
    @discardableResult
    static func check<T: BinaryInteger>(_ action: @autoclosure () -> String, _ call: () -> T) throws -> T {
        try run {
            let result = call()
            if result < 0 { throw HDF5Error.fromStack(action()) }
            return result
        }
    }
}

/// An owned libhdf5 identifier, closed with the matching close function when released.
final class Handle: @unchecked Sendable {
    let id: hid_t
    private let close: (hid_t) -> herr_t

    init(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.close = close
    }

    deinit { Library.run { _ = close(id) } }
}
