#include "convolution_primitives.h"

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// A tensor between Keras's layout (the caller's buffer) and the layout a primitive chose: where
/// they differ, a buffer in the primitive's layout and the reorder into it (an input) or out of it
/// (an output).
typedef struct {
    dnnl_memory_desc_t md;              // the primitive's layout
    int differs;
    void *buffer;
    dnnl_primitive_t reorder;
} bridge_t;

/// One primitive with its scratchpad and its three tensors' bridges, in the order of its
/// arguments: two inputs and one output (forward: src, weights -> dst; backward data: diff_dst,
/// weights -> diff_src; backward weights: src, diff_dst -> diff_weights).
typedef struct {
    dnnl_primitive_desc_t descriptor;
    dnnl_primitive_t primitive;
    void *scratchpad;
    dnnl_memory_t scratchpad_memory;
    bridge_t tensor[3];
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

static void release_bridge(bridge_t *b) {
    if (b->reorder) dnnl_primitive_destroy(b->reorder);
    free(b->buffer);
    memset(b, 0, sizeof *b);
}

static void release_pass(pass_t *p) {
    if (p->primitive) dnnl_primitive_destroy(p->primitive);
    if (p->descriptor) dnnl_primitive_desc_destroy(p->descriptor);
    if (p->scratchpad_memory) dnnl_memory_destroy(p->scratchpad_memory);
    free(p->scratchpad);
    for (int i = 0; i < 3; i++) release_bridge(&p->tensor[i]);
    memset(p, 0, sizeof *p);
}

/// The bridge between `user` (the caller's layout) and `mine` (the primitive's): nothing where
/// they are equal, else a buffer and the reorder into it (`into_primitive`) or out of it.
static dnnl_status_t make_bridge(relapse_convolution *c, bridge_t *b, const dnnl_memory_desc_t *user,
                                 const dnnl_memory_desc_t *mine, int into_primitive);

/// Finishes a pass from its descriptor: the primitive, its scratchpad, and the bridges of its
/// tensors (`queries`: the two inputs' and the output's descriptors; `user`: the caller's layouts).
static dnnl_status_t complete_pass(relapse_convolution *c, pass_t *p, const dnnl_query_t queries[3],
                                   const dnnl_memory_desc_t *user[3]) {
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
    for (int i = 0; i < 3 && st == dnnl_success; i++) {
        const dnnl_memory_desc_t *mine = dnnl_primitive_desc_query_md(p->descriptor, queries[i], 0);
        if (!mine) return dnnl_runtime_error;
        st = make_bridge(c, &p->tensor[i], user[i], mine, i < 2);
    }
    return st;
}

static dnnl_status_t make_bridge(relapse_convolution *c, bridge_t *b, const dnnl_memory_desc_t *user,
                                 const dnnl_memory_desc_t *mine, int into_primitive) {
    b->md = *mine;
    b->differs = !dnnl_memory_desc_equal(mine, user);
    if (!b->differs) return dnnl_success;
    size_t size = dnnl_memory_desc_get_size(mine);
    b->buffer = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!b->buffer) return dnnl_out_of_memory;
    dnnl_primitive_desc_t reorder_pd;
    dnnl_status_t st = into_primitive
        ? dnnl_reorder_primitive_desc_create(&reorder_pd, user, c->engine, mine, c->engine, NULL)
        : dnnl_reorder_primitive_desc_create(&reorder_pd, mine, c->engine, user, c->engine, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(&b->reorder, reorder_pd);
    dnnl_primitive_desc_destroy(reorder_pd);
    return st;
}

static dnnl_primitive_attr_t user_scratchpad_attr(void) {
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    return attr;
}

/// `md` with its layout left to the primitive (a blocked one where it is faster).
static dnnl_memory_desc_t any_layout(const dnnl_memory_desc_t *md) {
    dnnl_memory_desc_t any;
    dnnl_memory_desc_init_by_tag(&any, md->ndims, md->dims, dnnl_f32, dnnl_format_tag_any);
    return any;
}

static dnnl_status_t make_pass(relapse_convolution *c, int which) {
    if (c->made[which]) return c->pass[which].primitive ? dnnl_success : dnnl_unimplemented;
    c->made[which] = 1;
    pass_t *p = &c->pass[which];
    // The direct kernels read channels-last images in place; Winograd's want blocked ones.
    const int winograd = c->shape.winograd;
    const dnnl_alg_kind_t algorithm = winograd ? dnnl_convolution_winograd : dnnl_convolution_direct;
    dnnl_memory_desc_t weights = any_layout(&c->user_weights_md);
    dnnl_memory_desc_t src = winograd ? any_layout(&c->src_md) : c->src_md;
    dnnl_memory_desc_t dst = winograd ? any_layout(&c->dst_md) : c->dst_md;
    dnnl_primitive_attr_t attr = user_scratchpad_attr();
    if (!attr) return dnnl_out_of_memory;
    dnnl_status_t st;
    dnnl_convolution_desc_t desc;
    const dnnl_primitive_desc_t hint = c->pass[relapse_pass_forward].descriptor;
    switch (which) {
    case relapse_pass_forward: {
        st = dnnl_dilated_convolution_forward_desc_init(
            &desc, dnnl_forward_training, algorithm, &src, &weights,
            c->shape.has_bias ? &c->bias_md : NULL, &dst, c->strides, c->dilates, c->pad_l, c->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&p->descriptor, &desc, attr, c->engine, NULL);
        const dnnl_query_t queries[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
        const dnnl_memory_desc_t *user[3] = {&c->src_md, &c->user_weights_md, &c->dst_md};
        if (st == dnnl_success) st = complete_pass(c, p, queries, user);
        break;
    }
    case relapse_pass_backward_data: {
        st = dnnl_dilated_convolution_backward_data_desc_init(
            &desc, algorithm, &src, &weights, &dst, c->strides, c->dilates, c->pad_l, c->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&p->descriptor, &desc, attr, c->engine, hint);
        const dnnl_query_t queries[3] = {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md};
        const dnnl_memory_desc_t *user[3] = {&c->dst_md, &c->user_weights_md, &c->src_md};
        if (st == dnnl_success) st = complete_pass(c, p, queries, user);
        break;
    }
    default: {
        st = dnnl_dilated_convolution_backward_weights_desc_init(
            &desc, algorithm, &src, &weights, NULL, &dst, c->strides, c->dilates, c->pad_l, c->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&p->descriptor, &desc, attr, c->engine, hint);
        const dnnl_query_t queries[3] = {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md};
        const dnnl_memory_desc_t *user[3] = {&c->src_md, &c->dst_md, &c->user_weights_md};
        if (st == dnnl_success) st = complete_pass(c, p, queries, user);
        break;
    }
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

/// Runs a reorder from `from` to `to`.
static dnnl_status_t run_reorder(relapse_convolution *c, dnnl_primitive_t reorder, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    dnnl_status_t st = dnnl_primitive_execute(reorder, c->stream, 2, args);
    return st == dnnl_success ? dnnl_stream_wait(c->stream) : st;
}

/// Runs pass `which` on the caller's buffers: `in0`, `in1` and `out` in Keras's layouts (the
/// pass's two inputs and its output, as `pass_t` orders them), each moved through its bridge;
/// `bias` (forward only) as it is. 0 on success.
static int run_pass(relapse_convolution *c, int which, const int arg[3], const void *in0, const void *in1,
                    void *out, const float *bias) {
    dnnl_status_t st = make_pass(c, which);
    if (st != dnnl_success) return (int)st;
    pass_t *p = &c->pass[which];
    const void *data[3] = {in0, in1, out};
    const dnnl_memory_desc_t *user[3];
    switch (which) {
    case relapse_pass_forward: user[0] = &c->src_md; user[1] = &c->user_weights_md; user[2] = &c->dst_md; break;
    case relapse_pass_backward_data: user[0] = &c->dst_md; user[1] = &c->user_weights_md; user[2] = &c->src_md; break;
    default: user[0] = &c->src_md; user[1] = &c->dst_md; user[2] = &c->user_weights_md; break;
    }
    dnnl_memory_t theirs[3] = {NULL, NULL, NULL}, mine[3] = {NULL, NULL, NULL}, bias_memory = NULL;
    dnnl_exec_arg_t args[6];
    int count = 0;
    for (int i = 0; i < 3 && st == dnnl_success; i++) {
        bridge_t *b = &p->tensor[i];
        st = dnnl_memory_create(&theirs[i], user[i], c->engine, (void *)data[i]);
        if (st == dnnl_success && b->differs) st = dnnl_memory_create(&mine[i], &b->md, c->engine, b->buffer);
        if (st == dnnl_success && b->differs && i < 2) st = run_reorder(c, b->reorder, theirs[i], mine[i]);
        args[count++] = (dnnl_exec_arg_t){arg[i], b->differs ? mine[i] : theirs[i]};
    }
    if (st == dnnl_success && bias) {
        st = dnnl_memory_create(&bias_memory, &c->bias_md, c->engine, (void *)bias);
        args[count++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bias_memory};
    }
    if (st == dnnl_success && p->scratchpad_memory) args[count++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratchpad_memory};
    if (st == dnnl_success) st = dnnl_primitive_execute(p->primitive, c->stream, count, args);
    if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
    if (st == dnnl_success && p->tensor[2].differs) st = run_reorder(c, p->tensor[2].reorder, mine[2], theirs[2]);
    for (int i = 0; i < 3; i++) {
        if (theirs[i]) dnnl_memory_destroy(theirs[i]);
        if (mine[i]) dnnl_memory_destroy(mine[i]);
    }
    if (bias_memory) dnnl_memory_destroy(bias_memory);
    return st == dnnl_success ? 0 : (int)st;
}

int relapse_convolution_forward(relapse_convolution *c, const float *src, const float *weights, const float *bias,
                                float *dst) {
    static const int arg[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    return run_pass(c, relapse_pass_forward, arg, src, weights, dst, c->shape.has_bias ? bias : NULL);
}

int relapse_convolution_backward_data(relapse_convolution *c, const float *diff_dst, const float *weights,
                                      float *diff_src) {
    static const int arg[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    return run_pass(c, relapse_pass_backward_data, arg, diff_dst, weights, diff_src, NULL);
}

int relapse_convolution_backward_weights(relapse_convolution *c, const float *src, const float *diff_dst,
                                         float *diff_weights) {
    static const int arg[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    return run_pass(c, relapse_pass_backward_weights, arg, src, diff_dst, diff_weights, NULL);
}
