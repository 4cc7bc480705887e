import CCleanup
import Foundation

/// Ctrl-C asks the run to stop after the current batch; a second Ctrl-C ends the process at
/// once, removing the temporary file of any checkpoint being written (`CCleanup`).
public enum StopRequest {
    public static var isRequested: Bool { relapse_cleanup_stop_requested() != 0 }

    public static func installInterruptHandler() {
        relapse_cleanup_graceful_interrupt()
    }
}
