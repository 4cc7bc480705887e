#include "worker_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#define RELAX() __builtin_ia32_pause()
#else
#define RELAX() ((void)0)
#endif

// A helper spins ~25 us for the next region before it sleeps; the caller, waiting for a helper's
// last index, spins as long and then yields its core (a helper descheduled by other work on a
// loaded machine gets it back instead of waiting out the caller's time slice).
enum { max_helpers = 255, spins_before_sleep = 1 << 9, spins_before_yield = 1 << 9 };

static struct {
    pthread_once_t once;
    int helpers;
    pthread_mutex_t region;           // one region at a time
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    // The region's number in the high 32 bits, its next index in the low ones: an index is taken
    // by a compare-and-swap that also checks the region, so a helper still leaving the last region
    // can never take (and so skip or repeat) an index of the next.
    _Atomic unsigned long ticket;
    relapse_task task;                // published before the ticket (release)
    void *context;
    _Atomic long count;
    _Atomic long finished;
} pool = {.once = PTHREAD_ONCE_INIT, .region = PTHREAD_MUTEX_INITIALIZER,
          .sleep_lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static __thread int inside_region;
// Set by every first-level caller before `pthread_once` reads it (atomic: callers on several
// threads may store it at once).
static _Atomic int requested_helpers;

static unsigned long region_of(unsigned long ticket) { return ticket >> 32; }
// The index half of a region's ticket once it has ended: never below any region's count.
static const unsigned long closed_index = 0xffffffffUL;

/// Takes indices of region `region` until none is left (or another region has begun).
static void run_items(unsigned long region) {
    unsigned long t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    for (;;) {
        if (region_of(t) != region || (long)(t & 0xffffffffUL) >= atomic_load_explicit(&pool.count, memory_order_acquire)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        pool.task(pool.context, (long)(t & 0xffffffffUL));
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
        t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    }
}

static void *helper(void *unused) {
    (void)unused;
    inside_region = 1;   // a helper's tasks never open regions of their own
    unsigned long seen = 0;
    for (;;) {
        int spins = 0;
        while (region_of(atomic_load_explicit(&pool.ticket, memory_order_acquire)) == seen) {
            if (++spins < spins_before_sleep) { RELAX(); continue; }
            pthread_mutex_lock(&pool.sleep_lock);
            while (region_of(atomic_load_explicit(&pool.ticket, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            pthread_mutex_unlock(&pool.sleep_lock);
        }
        seen = region_of(atomic_load_explicit(&pool.ticket, memory_order_acquire));
        run_items(seen);
    }
    return NULL;
}

static void start_helpers(void) {
    int requested = atomic_load_explicit(&requested_helpers, memory_order_relaxed);
    int n = requested < max_helpers ? requested : max_helpers;
    for (int k = 0; k < n; k++) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, helper, NULL) == 0) pool.helpers++;
        pthread_attr_destroy(&attr);
    }
}

void relapse_parallel_for(long count, int helpers, void *context, relapse_task task) {
    if (count > 1 && helpers > 0 && !inside_region) {
        atomic_store_explicit(&requested_helpers, helpers, memory_order_relaxed);
        pthread_once(&pool.once, start_helpers);
    }
    if (count <= 1 || pool.helpers == 0 || inside_region || pthread_mutex_trylock(&pool.region) != 0) {
        for (long i = 0; i < count; i++) task(context, i);
        return;
    }
    inside_region = 1;
    // Close the last region's ticket before this region's count is written: a helper that read
    // the old ticket and then the new, larger count would otherwise claim an index of the old
    // region that the new one also runs, and count it finished in the new region (which could
    // then return while that index still ran). Once closed, no compare-and-swap on an old ticket
    // can succeed, and a helper that reads the new count (release below) sees the ticket closed.
    unsigned long last = region_of(atomic_load_explicit(&pool.ticket, memory_order_relaxed));
    atomic_store_explicit(&pool.ticket, (last << 32) | closed_index, memory_order_seq_cst);
    pool.task = task;
    pool.context = context;
    const long taken = count < (long)closed_index ? count : (long)closed_index;
    atomic_store_explicit(&pool.count, taken, memory_order_release);
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    unsigned long region = last + 1;
    pthread_mutex_lock(&pool.sleep_lock);
    atomic_store_explicit(&pool.ticket, region << 32, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.sleep_lock);
    run_items(region);
    for (int spins = 0; atomic_load_explicit(&pool.finished, memory_order_acquire) < taken; spins++) {
        if (spins < spins_before_yield) RELAX(); else sched_yield();
    }
    inside_region = 0;
    pthread_mutex_unlock(&pool.region);
    for (long i = taken; i < count; i++) task(context, i);   // beyond 2^32 - 1 indices
}
