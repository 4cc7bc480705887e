#include "CByteScan.h"

#include <string.h>

long relapse_find_any_u64(const unsigned char *bytes, long count, long from, const uint64_t *values, long n) {
    if (n <= 0 || count < 8) return -1;
    const uint64_t lowest = values[0], highest = values[n - 1];
    for (long p = from < 0 ? 0 : from; p <= count - 8; p++) {
        uint64_t v;
        memcpy(&v, bytes + p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        // Most positions fail here: file addresses are small and not 0.
        if (v < lowest || v > highest) continue;
        long lo = 0, hi = n - 1;
        while (lo <= hi) {
            long mid = lo + (hi - lo) / 2;
            if (values[mid] == v) return p;
            if (values[mid] < v) lo = mid + 1; else hi = mid - 1;
        }
    }
    return -1;
}
