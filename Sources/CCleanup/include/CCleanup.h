#ifndef RELAPSE_CLEANUP_H
#define RELAPSE_CLEANUP_H

/// The temporary files Relapse is writing, kept where a signal handler can reach them, and the
/// handlers that remove them when SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the process. In C
/// because a signal handler may only touch plain memory and call async-signal-safe functions
/// (unlink, raise); Swift globals are lazily initialised behind a lock.

/// Registers a temporary file; returns its slot (give it to relapse_cleanup_remove), or -1
/// when every slot is taken or the path is too long (the file is then not removed on a
/// signal; the stale-temporary sweep of a later run still finds it).
int relapse_cleanup_add(const char *path);

/// Forgets a slot (after the file was renamed into place or removed).
void relapse_cleanup_remove(int slot);

/// Unlinks every registered temporary file. Async-signal-safe: for the crash guard.
void relapse_cleanup_unlink_all(void);

/// Installs the handlers for SIGINT, SIGTERM, SIGHUP and SIGQUIT: remove the temporaries, then
/// die of the same signal (the shell sees 128 + N). Idempotent.
void relapse_cleanup_install(void);

/// From now on the first SIGINT only asks the run to stop after the current batch
/// (relapse_cleanup_stop_requested); the second is handled as above.
void relapse_cleanup_graceful_interrupt(void);

/// Whether a graceful SIGINT has arrived.
int relapse_cleanup_stop_requested(void);

/// Makes stdout line-buffered whatever it is (a file or pipe would be block-buffered): each
/// line is out as soon as it is printed, so a killed run loses none. (Here because Swift 6
/// cannot name C's `stdout` global.)
void relapse_stdout_line_buffered(void);

#endif
