/* GEMM backends on this machine's shapes, single-threaded, best of 9: oneDNN's dnnl_sgemm
 * (what Relapse uses), OpenBLAS and BLIS through CBLAS. Not part of the build; the numbers are in
 * docs/PERFORMANCE.md. With libdnnl-dev, libopenblas-dev and libblis-dev installed:
 *
 *   gcc -O2 -DUSE_DNNL gemm_backends.c -o g_dnnl -ldnnl && OMP_NUM_THREADS=1 ./g_dnnl
 *   gcc -O2 -DUSE_OPENBLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread gemm_backends.c -o g_openblas -lopenblas && ./g_openblas
 *   gcc -O2 -DUSE_BLIS -I/usr/include/x86_64-linux-gnu/blis-openmp gemm_backends.c -o g_blis -lblis && ./g_blis
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(USE_DNNL)
#include <dnnl.h>
#define NAME "dnnl_sgemm"
static void sg(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc);
}
static void setup(void) {}
#else
#include <cblas.h>
#if defined(USE_OPENBLAS)
#define NAME "openblas"
extern void openblas_set_num_threads(int); extern char *openblas_get_corename(void);
static void setup(void) { openblas_set_num_threads(1); fprintf(stderr, "openblas core: %s\n", openblas_get_corename()); }
#else
#define NAME "blis"
extern void bli_thread_set_num_threads(long);
static void setup(void) { bli_thread_set_num_threads(1); }
#endif
static void sg(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc);
}
#endif
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void run(const char *label, int ta, int tb, int m, int n, int k) {
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    for (long i = 0; i < (long)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < (long)k * n; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 1e9;
    for (int r = 0; r < 9; r++) {
        double t = now();
        sg(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n);
        t = now() - t; if (t < best) best = t;
    }
    printf("%-11s %-34s %5d %5d %5d %6.0f GFLOP/s\n", NAME, label, m, n, k, 2.0 * m * n * k / best / 1e9);
    free(a); free(b); free(c);
}
int main(void) {
    setup();
    run("conv2 component forward NN", 0, 0, 128, 128, 4096);
    run("conv2 component kernel grad TN", 1, 0, 4096, 128, 128);
    run("conv2 component input grad NT", 0, 1, 128, 4096, 128);
    run("conv1 component forward NN", 0, 0, 1539, 64, 64);
    run("conv1 component kernel grad TN", 1, 0, 64, 64, 1539);
    run("im2col conv2 forward NN", 0, 0, 128, 128, 16384);
    run("3x3 32->32 stride 1 forward NN", 0, 0, 32768, 32, 288);
    return 0;
}
