#ifndef RELAPSE_CONVOLUTION_PRIMITIVES_H
#define RELAPSE_CONVOLUTION_PRIMITIVES_H

#include <stddef.h>

/// oneDNN's convolution primitives (forward, backward data, backward weights) for one fixed
/// shape and batch, behind a plain C API: dnnl.h passes dimensions as fixed-size arrays that
/// Swift imports as 12-element tuples, and each primitive needs its weights reordered into the
/// blocked layout it chose (and, for Winograd, the images too), a scratchpad and a hint from the
/// forward. One object is used by one
/// thread at a time; it runs on the calling thread only when that thread's OpenMP team size is 1
/// (the caller sets it), so its sums do not depend on the machine's core count.

typedef struct relapse_convolution relapse_convolution;

typedef struct {
    int batch, channels, height, width;       // the input, (batch, height, width, channels) or (batch, channels, height, width)
    int filters, out_height, out_width;
    int kernel_height, kernel_width;
    int stride_height, stride_width;
    int dilation_height, dilation_width;      // Keras's dilation_rate (1: neighbouring taps)
    int pad_top, pad_left;                    // the padding before; the padding after follows from the sizes
    int channels_last;                        // 1: NHWC images, 0: NCHW
    int has_bias;
    int winograd;                             // 1: oneDNN's Winograd F(4 x 4, 3 x 3) (images reordered to its blocked layout)
} relapse_convolution_shape;

enum { relapse_pass_forward = 0, relapse_pass_backward_data = 1, relapse_pass_backward_weights = 2 };

/// The forward primitive for `shape` (the backward ones are made on their first use). NULL, with
/// a message in `error`, when oneDNN has no primitive for it.
relapse_convolution *relapse_convolution_create(const relapse_convolution_shape *shape, char *error, size_t error_size);
void relapse_convolution_destroy(relapse_convolution *c);

/// The implementation oneDNN chose for a pass ("brgconv:avx512_core", "gemm:jit", ...), making
/// that pass's primitive if needed; NULL when it cannot be made.
const char *relapse_convolution_implementation(relapse_convolution *c, int pass);

/// dst = conv(src, weights) + bias. Weights in Keras's (kh, kw, in, out) order. 0 on success.
int relapse_convolution_forward(relapse_convolution *c, const float *src, const float *weights,
                                const float *bias, float *dst);

/// diff_src = the gradient of the forward's output with respect to its input.
int relapse_convolution_backward_data(relapse_convolution *c, const float *diff_dst, const float *weights,
                                      float *diff_src);

/// diff_weights (Keras's order) = the kernel gradient over this batch.
int relapse_convolution_backward_weights(relapse_convolution *c, const float *src, const float *diff_dst,
                                         float *diff_weights);

#endif
