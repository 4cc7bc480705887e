import CCleanup
import Foundation

/// libhdf5 1.10 can still crash on crafted files in ways no check made beforehand can see
/// (a variable-length string whose stored length disagrees with its heap object, for one).
/// A command-line tool can answer such a crash the way it answers any bad input: once
/// installed, a SIGSEGV or SIGBUS raised while a libhdf5 call is in progress (inside
/// `Library.run`) prints `relapse: error: FILE: ...` naming the file last opened and exits
/// with status 2. Any other SIGSEGV or SIGBUS goes to the handler that was there before
/// (Swift's backtracer), so crashes in Relapse's own code still show as crashes.
public enum CrashGuard {
    /// Installs the handlers; `prefix` starts the message (e.g. "relapse: error: ").
    public static func install(prefix: String) {
        guardPrefix = strdup(prefix)
        guardMessage = strdup(prefix + "an HDF5 file is corrupt: libhdf5 crashed reading it\n")
        libraryDepth = 0
        let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 2)
        previous.initialize(repeating: sigaction(), count: 2)
        previousActions = previous
        // An alternate stack, so a stack overflow inside libhdf5 reaches the handler too.
        let stackSize = 64 * 1024
        var stack = stack_t()
        alternateStack = malloc(stackSize)
        stack.ss_sp = alternateStack
        stack.ss_size = stackSize
        stack.ss_flags = 0
        sigaltstack(&stack, nil)
        for signal in [SIGSEGV, SIGBUS] {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = crashHandler
            action.sa_flags = SA_SIGINFO | SA_ONSTACK
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, signal == SIGSEGV ? previous : previous + 1)
        }
    }

    /// Names the file a crash would be reported against (the one being opened or read).
    static func reading(_ path: String) {
        guard let prefix = guardPrefix else { return }
        let text = String(cString: prefix) + path + ": is corrupt: libhdf5 crashed reading it\n"
        let old = guardMessage
        guardMessage = strdup(text)
        free(old)
    }
}

// Plain globals, set before the handlers are installed and only read inside them.
nonisolated(unsafe) var libraryDepth: Int = 0
nonisolated(unsafe) private var alternateStack: UnsafeMutableRawPointer?
nonisolated(unsafe) private var guardPrefix: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var guardMessage: UnsafeMutablePointer<CChar>?
/// The handlers found at install time, for SIGSEGV and SIGBUS (heap memory, so the handler
/// reads them without touching Swift globals of C struct type).
nonisolated(unsafe) private var previousActions: UnsafeMutablePointer<sigaction>?

private func crashHandler(_ number: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    if libraryDepth > 0, let message = guardMessage {
        _ = write(STDERR_FILENO, message, strlen(message))
        relapse_cleanup_unlink_all()
        _exit(2)
    }
    // Not in libhdf5: put the earlier handler back; returning re-runs the faulting
    // instruction, which now reaches it.
    guard let previous = previousActions else {
        signal(number, SIG_DFL)
        return
    }
    sigaction(number, number == SIGSEGV ? previous : previous + 1, nil)
}
