#include "CCleanup.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 32, PATH_BYTES = 4096 };
enum { FREE = 0, FILLING = 1, LIVE = 2 };

static _Atomic int states[SLOTS];
static char paths[SLOTS][PATH_BYTES];
static atomic_int graceful;
static atomic_int stop_requested;
static atomic_int installed;

int relapse_cleanup_add(const char *path) {
    size_t length = strlen(path);
    if (length >= PATH_BYTES) return -1;
    for (int slot = 0; slot < SLOTS; slot++) {
        int expected = FREE;
        if (atomic_compare_exchange_strong(&states[slot], &expected, FILLING)) {
            memcpy(paths[slot], path, length + 1);
            atomic_store(&states[slot], LIVE);
            return slot;
        }
    }
    return -1;
}

void relapse_cleanup_remove(int slot) {
    if (slot >= 0 && slot < SLOTS) atomic_store(&states[slot], FREE);
}

void relapse_cleanup_unlink_all(void) {
    for (int slot = 0; slot < SLOTS; slot++) {
        if (atomic_load(&states[slot]) == LIVE) unlink(paths[slot]);
    }
}

static void handler(int number) {
    if (number == SIGINT && atomic_load(&graceful) && !atomic_exchange(&stop_requested, 1)) return;
    relapse_cleanup_unlink_all();
    // Die of the same signal: it is blocked while this handler runs and is delivered, with
    // the default action, as soon as the handler returns.
    signal(number, SIG_DFL);
    raise(number);
}

void relapse_cleanup_install(void) {
    if (atomic_exchange(&installed, 1)) return;
    int numbers[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (unsigned i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = handler;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        struct sigaction previous;
        // A signal ignored by whoever started us (nohup) stays ignored.
        if (sigaction(numbers[i], NULL, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
        sigaction(numbers[i], &action, NULL);
    }
}

void relapse_cleanup_graceful_interrupt(void) {
    atomic_store(&graceful, 1);
    relapse_cleanup_install();
}

int relapse_cleanup_stop_requested(void) {
    return atomic_load(&stop_requested);
}

void relapse_stdout_line_buffered(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
