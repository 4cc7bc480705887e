#include "CLaneShuffles.h"

static void lanes_to_rows_plain(const float *lanes, int count, int validLanes, const float *bias,
                                float *rows, ptrdiff_t stride) {
    for (int l = 0; l < validLanes; l++) {
        float *dst = rows + l * stride;
        if (bias) {
            for (int j = 0; j < count; j++) dst[j] = lanes[j * 16 + l] + bias[l];
        } else {
            for (int j = 0; j < count; j++) dst[j] = lanes[j * 16 + l];
        }
    }
}

static void rows_to_lanes_plain(const float *rows, ptrdiff_t stride, int count, int validLanes, float *lanes) {
    for (int j = 0; j < count; j++) {
        for (int l = 0; l < 16; l++) lanes[j * 16 + l] = l < validLanes ? rows[l * stride + j] : 0;
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

/// r[i] (row i of a 16 x 16 block) becomes column i.
__attribute__((target("avx512f"))) static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + i + 4], 0x88);
            t[8 * h + i + 4] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + i + 4], 0xdd);
        }
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

__attribute__((target("avx512f"))) static void lanes_to_rows_avx512(const float *lanes, int count, int validLanes,
                                                                   const float *bias, float *rows, ptrdiff_t stride) {
    int j0 = 0;
    for (; j0 + 16 <= count; j0 += 16) {
        __m512 r[16];
        for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(lanes + (j0 + j) * 16);
        transpose16(r);
        for (int l = 0; l < validLanes; l++) {
            __m512 v = bias ? _mm512_add_ps(r[l], _mm512_set1_ps(bias[l])) : r[l];
            _mm512_storeu_ps(rows + l * stride + j0, v);
        }
    }
    if (j0 < count) lanes_to_rows_plain(lanes + j0 * 16, count - j0, validLanes, bias, rows + j0, stride);
}

__attribute__((target("avx512f"))) static void rows_to_lanes_avx512(const float *rows, ptrdiff_t stride, int count,
                                                                   int validLanes, float *lanes) {
    int j0 = 0;
    for (; j0 + 16 <= count; j0 += 16) {
        __m512 r[16];
        for (int l = 0; l < 16; l++) r[l] = l < validLanes ? _mm512_loadu_ps(rows + l * stride + j0) : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0; j < 16; j++) _mm512_storeu_ps(lanes + (j0 + j) * 16, r[j]);
    }
    if (j0 < count) rows_to_lanes_plain(rows + j0, stride, count - j0, validLanes, lanes + j0 * 16);
}

static int has_avx512(void) { return __builtin_cpu_supports("avx512f"); }

void relapse_lanes_to_rows(const float *lanes, int count, int validLanes, const float *bias, float *rows, ptrdiff_t stride) {
    if (has_avx512()) lanes_to_rows_avx512(lanes, count, validLanes, bias, rows, stride);
    else lanes_to_rows_plain(lanes, count, validLanes, bias, rows, stride);
}

void relapse_rows_to_lanes(const float *rows, ptrdiff_t stride, int count, int validLanes, float *lanes) {
    if (has_avx512()) rows_to_lanes_avx512(rows, stride, count, validLanes, lanes);
    else rows_to_lanes_plain(rows, stride, count, validLanes, lanes);
}

#else

void relapse_lanes_to_rows(const float *lanes, int count, int validLanes, const float *bias, float *rows, ptrdiff_t stride) {
    lanes_to_rows_plain(lanes, count, validLanes, bias, rows, stride);
}

void relapse_rows_to_lanes(const float *rows, ptrdiff_t stride, int count, int validLanes, float *lanes) {
    rows_to_lanes_plain(rows, stride, count, validLanes, lanes);
}

#endif
