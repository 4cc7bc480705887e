import Foundation
import Synchronization

/// Ctrl-C asks the run to stop after the current batch; a second Ctrl-C exits at once.
public enum StopRequest {
    static let requested = Atomic<Bool>(false)

    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

    public static func installInterruptHandler() {
        signal(SIGINT) { _ in
            if StopRequest.requested.exchange(true, ordering: .relaxed) {
                _exit(130)
            }
        }
    }
}
