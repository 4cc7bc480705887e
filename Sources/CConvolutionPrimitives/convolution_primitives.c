#include "convolution_primitives.h"

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// One primitive with its scratchpad and, where its weights layout is not Keras's, a buffer for
/// the weights (or weight gradient) in its own layout and the reorder between the two.
typedef struct {
    dnnl_primitive_desc_t descriptor;
    dnnl_primitive_t primitive;
    void *scratchpad;
    dnnl_memory_t scratchpad_memory;
    dnnl_memory_desc_t weights_md;      // the layout the primitive wants (or gives) its weights in
    int weights_differ;                 // not Keras's (kh, kw, in, out)
    float *weights;                     // buffer in that layout, when it differs
    dnnl_primitive_t reorder;           // Keras's -> the primitive's (forward, backward data) or back
} pass_t;

struct relapse_convolution {
    relapse_convolution_shape shape;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_memory_desc_t src_md, dst_md, user_weights_md, bias_md;
    dnnl_dims_t strides, dilates, pad_l, pad_r;
    pass_t pass[3];
    int made[3];
};

static void release_pass(pass_t *p) {
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->primitive) dnnl_primitive_destroy(p->primitive);
    if (p->descriptor) dnnl_primitive_desc_destroy(p->descriptor);
    if (p->scratchpad_memory) dnnl_memory_destroy(p->scratchpad_memory);
    free(p->scratchpad);
    free(p->weights);
    memset(p, 0, sizeof *p);
}

/// Finishes a pass from its descriptor: the primitive, its scratchpad, and its weights' layout
/// with the reorder from (`to_primitive`) or to Keras's layout.
static dnnl_status_t complete_pass(relapse_convolution *c, pass_t *p, dnnl_query_t weights_query, int to_primitive) {
    dnnl_status_t st = dnnl_primitive_create(&p->primitive, p->descriptor);
    if (st != dnnl_success) return st;
    const dnnl_memory_desc_t *pad_md = dnnl_primitive_desc_query_md(p->descriptor, dnnl_query_scratchpad_md, 0);
    size_t pad_size = pad_md ? dnnl_memory_desc_get_size(pad_md) : 0;
    if (pad_size > 0) {
        p->scratchpad = aligned_alloc(64, (pad_size + 63) / 64 * 64);
        if (!p->scratchpad) return dnnl_out_of_memory;
        st = dnnl_memory_create(&p->scratchpad_memory, pad_md, c->engine, p->scratchpad);
        if (st != dnnl_success) return st;
    }
    p->weights_md = *dnnl_primitive_desc_query_md(p->descriptor, weights_query, 0);
    p->weights_differ = !dnnl_memory_desc_equal(&p->weights_md, &c->user_weights_md);
    if (p->weights_differ) {
        size_t size = dnnl_memory_desc_get_size(&p->weights_md);
        p->weights = aligned_alloc(64, (size + 63) / 64 * 64);
        if (!p->weights) return dnnl_out_of_memory;
        dnnl_primitive_desc_t reorder_pd;
        st = to_primitive
            ? dnnl_reorder_primitive_desc_create(&reorder_pd, &c->user_weights_md, c->engine, &p->weights_md, c->engine, NULL)
            : dnnl_reorder_primitive_desc_create(&reorder_pd, &p->weights_md, c->engine, &c->user_weights_md, c->engine, NULL);
        if (st != dnnl_success) return st;
        st = dnnl_primitive_create(&p->reorder, reorder_pd);
        dnnl_primitive_desc_destroy(reorder_pd);
    }
    return st;
}

static dnnl_primitive_attr_t user_scratchpad_attr(void) {
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    return attr;
}

/// Weights left to the primitive's choice of layout (a blocked one where it is faster).
static void any_weights(const relapse_convolution *c, dnnl_memory_desc_t *md) {
    const relapse_convolution_shape *s = &c->shape;
    dnnl_dims_t dims = {s->filters, s->channels, s->kernel_height, s->kernel_width};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any);
}

static dnnl_status_t make_pass(relapse_convolution *c, int which) {
    if (c->made[which]) return c->pass[which].primitive ? dnnl_success : dnnl_unimplemented;
    c->made[which] = 1;
    pass_t *p = &c->pass[which];
    dnnl_memory_desc_t weights_any;
    any_weights(c, &weights_any);
    dnnl_primitive_attr_t attr = user_scratchpad_attr();
    if (!attr) return dnnl_out_of_memory;
    dnnl_status_t st;
    dnnl_convolution_desc_t desc;
    const dnnl_primitive_desc_t hint = c->pass[relapse_pass_forward].descriptor;
    switch (which) {
    case relapse_pass_forward:
        st = dnnl_dilated_convolution_forward_desc_init(
            &desc, dnnl_forward_training, dnnl_convolution_direct, &c->src_md, &weights_any,
            c->shape.has_bias ? &c->bias_md : NULL, &c->dst_md, c->strides, c->dilates, c->pad_l, c->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&p->descriptor, &desc, attr, c->engine, NULL);
        if (st == dnnl_success) st = complete_pass(c, p, dnnl_query_weights_md, 1);
        break;
    case relapse_pass_backward_data:
        st = dnnl_dilated_convolution_backward_data_desc_init(
            &desc, dnnl_convolution_direct, &c->src_md, &weights_any, &c->dst_md, c->strides, c->dilates, c->pad_l, c->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&p->descriptor, &desc, attr, c->engine, hint);
        if (st == dnnl_success) st = complete_pass(c, p, dnnl_query_weights_md, 1);
        break;
    default:
        st = dnnl_dilated_convolution_backward_weights_desc_init(
            &desc, dnnl_convolution_direct, &c->src_md, &weights_any, NULL, &c->dst_md, c->strides, c->dilates,
            c->pad_l, c->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&p->descriptor, &desc, attr, c->engine, hint);
        if (st == dnnl_success) st = complete_pass(c, p, dnnl_query_diff_weights_md, 0);
        break;
    }
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) release_pass(p);
    return st;
}

relapse_convolution *relapse_convolution_create(const relapse_convolution_shape *s, char *error, size_t error_size) {
    relapse_convolution *c = calloc(1, sizeof *c);
    if (!c) { snprintf(error, error_size, "out of memory"); return NULL; }
    c->shape = *s;
    dnnl_status_t st = dnnl_engine_create(&c->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        snprintf(error, error_size, "oneDNN has no CPU engine (status %d)", (int)st);
        relapse_convolution_destroy(c);
        return NULL;
    }
    dnnl_format_tag_t image = s->channels_last ? dnnl_nhwc : dnnl_nchw;
    dnnl_dims_t src = {s->batch, s->channels, s->height, s->width};
    dnnl_dims_t dst = {s->batch, s->filters, s->out_height, s->out_width};
    dnnl_dims_t weights = {s->filters, s->channels, s->kernel_height, s->kernel_width};
    dnnl_dims_t bias = {s->filters};
    dnnl_memory_desc_init_by_tag(&c->src_md, 4, src, dnnl_f32, image);
    dnnl_memory_desc_init_by_tag(&c->dst_md, 4, dst, dnnl_f32, image);
    // Keras keeps a kernel as (kh, kw, in, out): oneDNN's hwio.
    dnnl_memory_desc_init_by_tag(&c->user_weights_md, 4, weights, dnnl_f32, dnnl_hwio);
    dnnl_memory_desc_init_by_tag(&c->bias_md, 1, bias, dnnl_f32, dnnl_a);
    // oneDNN counts dilation from 0 (no gap) and takes both paddings; the one after is what the
    // output size leaves over (never negative: a valid window's leftover input is simply unread).
    int extent_h = (s->kernel_height - 1) * s->dilation_height + 1, extent_w = (s->kernel_width - 1) * s->dilation_width + 1;
    int after_h = (s->out_height - 1) * s->stride_height + extent_h - s->height - s->pad_top;
    int after_w = (s->out_width - 1) * s->stride_width + extent_w - s->width - s->pad_left;
    c->strides[0] = s->stride_height; c->strides[1] = s->stride_width;
    c->dilates[0] = s->dilation_height - 1; c->dilates[1] = s->dilation_width - 1;
    c->pad_l[0] = s->pad_top; c->pad_l[1] = s->pad_left;
    c->pad_r[0] = after_h > 0 ? after_h : 0; c->pad_r[1] = after_w > 0 ? after_w : 0;
    st = make_pass(c, relapse_pass_forward);
    if (st != dnnl_success) {
        snprintf(error, error_size, "oneDNN has no convolution for this shape (status %d)", (int)st);
        relapse_convolution_destroy(c);
        return NULL;
    }
    return c;
}

void relapse_convolution_destroy(relapse_convolution *c) {
    if (!c) return;
    for (int i = 0; i < 3; i++) release_pass(&c->pass[i]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    free(c);
}

const char *relapse_convolution_implementation(relapse_convolution *c, int which) {
    if (which < 0 || which > 2 || make_pass(c, which) != dnnl_success) return NULL;
    const char *name = NULL;
    dnnl_primitive_desc_query(c->pass[which].descriptor, dnnl_query_impl_info_str, 0, &name);
    return name;
}

/// Wraps a buffer of ours as oneDNN memory (no copy) for one call.
static dnnl_memory_t wrap(relapse_convolution *c, const dnnl_memory_desc_t *md, const void *data) {
    dnnl_memory_t m = NULL;
    dnnl_memory_create(&m, md, c->engine, (void *)data);
    return m;
}

/// Runs `primitive` with `args` and its scratchpad, then releases the wrapped memories.
static int execute(relapse_convolution *c, pass_t *p, dnnl_exec_arg_t *args, int count) {
    if (p->scratchpad_memory) args[count++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratchpad_memory};
    dnnl_status_t st = dnnl_primitive_execute(p->primitive, c->stream, count, args);
    if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
    return st == dnnl_success ? 0 : (int)st;
}

/// Keras's weights in the layout pass `p` reads, as oneDNN memory (reordered into its buffer
/// when the layouts differ). The caller destroys it.
static dnnl_memory_t weights_for(relapse_convolution *c, pass_t *p, const float *weights, int *status) {
    dnnl_memory_t user = wrap(c, &c->user_weights_md, weights);
    if (!p->weights_differ) return user;
    dnnl_memory_t mine = wrap(c, &p->weights_md, p->weights);
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, mine}};
    dnnl_status_t st = dnnl_primitive_execute(p->reorder, c->stream, 2, args);
    if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
    dnnl_memory_destroy(user);
    *status = st == dnnl_success ? 0 : (int)st;
    return mine;
}

int relapse_convolution_forward(relapse_convolution *c, const float *src, const float *weights, const float *bias,
                                float *dst) {
    pass_t *p = &c->pass[relapse_pass_forward];
    int status = 0;
    dnnl_memory_t w = weights_for(c, p, weights, &status);
    dnnl_memory_t x = wrap(c, &c->src_md, src), y = wrap(c, &c->dst_md, dst), b = NULL;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}};
    int count = 3;
    if (c->shape.has_bias) { b = wrap(c, &c->bias_md, bias); args[count++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, b}; }
    if (status == 0) status = execute(c, p, args, count);
    dnnl_memory_destroy(x); dnnl_memory_destroy(y); dnnl_memory_destroy(w);
    if (b) dnnl_memory_destroy(b);
    return status;
}

int relapse_convolution_backward_data(relapse_convolution *c, const float *diff_dst, const float *weights,
                                      float *diff_src) {
    int status = make_pass(c, relapse_pass_backward_data);
    if (status != 0) return status;
    pass_t *p = &c->pass[relapse_pass_backward_data];
    dnnl_memory_t w = weights_for(c, p, weights, &status);
    dnnl_memory_t dy = wrap(c, &c->dst_md, diff_dst), dx = wrap(c, &c->src_md, diff_src);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dx}};
    if (status == 0) status = execute(c, p, args, 3);
    dnnl_memory_destroy(dy); dnnl_memory_destroy(dx); dnnl_memory_destroy(w);
    return status;
}

int relapse_convolution_backward_weights(relapse_convolution *c, const float *src, const float *diff_dst,
                                         float *diff_weights) {
    int status = make_pass(c, relapse_pass_backward_weights);
    if (status != 0) return status;
    pass_t *p = &c->pass[relapse_pass_backward_weights];
    dnnl_memory_t x = wrap(c, &c->src_md, src), dy = wrap(c, &c->dst_md, diff_dst);
    dnnl_memory_t user = wrap(c, &c->user_weights_md, diff_weights);
    dnnl_memory_t dw = p->weights_differ ? wrap(c, &p->weights_md, p->weights) : user;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}};
    status = execute(c, p, args, 3);
    if (status == 0 && p->weights_differ) {
        dnnl_exec_arg_t back[] = {{DNNL_ARG_FROM, dw}, {DNNL_ARG_TO, user}};
        dnnl_status_t st = dnnl_primitive_execute(p->reorder, c->stream, 2, back);
        if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
        status = st == dnnl_success ? 0 : (int)st;
    }
    dnnl_memory_destroy(x); dnnl_memory_destroy(dy); dnnl_memory_destroy(user);
    if (p->weights_differ) dnnl_memory_destroy(dw);
    return status;
}
