#ifndef RELAPSE_WORKER_POOL_H
#define RELAPSE_WORKER_POOL_H

/// The threads `parallelFor` runs on: the caller and (cores - 1) helpers that wait for the next
/// region spinning for about 25 microseconds before they sleep. A training step opens several
/// hundred short regions (a layer's pieces); a helper woken from sleep for each (libdispatch's
/// pool) joined late and left the caller most of the work.

typedef void (*relapse_task)(void *context, long index);

/// Runs task(context, i) for every i in 0..<count across the caller and the helpers (started on
/// first use, `helpers` of them). Nested calls, and calls while another thread's region runs, run
/// on the calling thread alone. Returns when every index is done.
void relapse_parallel_for(long count, int helpers, void *context, relapse_task task);

#endif
