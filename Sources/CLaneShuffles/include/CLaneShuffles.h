#ifndef RELAPSE_LANE_SHUFFLES_H
#define RELAPSE_LANE_SHUFFLES_H

#include <stddef.h>

/// Moves between "lanes" (vectors of 16 floats, one float per signal: element j of signal l at
/// lanes[j * 16 + l]) and rows (signal l's elements contiguous at rows + l * stride). These are
/// 16 x 16 transposes; written in C because they need vector shuffles (AVX-512 where the CPU has
/// it, chosen at run time; plain loops elsewhere).

/// rows[l * stride + j] = lanes[j * 16 + l] + (bias ? bias[l] : 0), for j < count, l < validLanes.
void relapse_lanes_to_rows(const float *lanes, int count, int validLanes, const float *bias,
                           float *rows, ptrdiff_t stride);

/// lanes[j * 16 + l] = rows[l * stride + j] for l < validLanes, 0 for the other lanes; j < count.
void relapse_rows_to_lanes(const float *rows, ptrdiff_t stride, int count, int validLanes, float *lanes);

#endif
