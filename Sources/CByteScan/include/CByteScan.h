#ifndef RELAPSE_CBYTESCAN_H
#define RELAPSE_CBYTESCAN_H

#include <stdint.h>

/// The first offset in [from, count - 8] where the 8 bytes, read little-endian, equal one of
/// `values` (sorted ascending, `n` of them, none 0), or -1. A whole-file pass that must stay
/// cheap in debug builds too: GlobalHeapCheck looks for heap IDs in files of hundreds of MB.
long relapse_find_any_u64(const unsigned char *bytes, long count, long from, const uint64_t *values, long n);

#endif
