#ifndef ISAERFT_CKERNELS_H
#define ISAERFT_CKERNELS_H
/* Element-wise and row kernels in C: plain loops that clang vectorises, compiled once per CPU
 * family (AVX-512, AVX2, baseline) and chosen at load time (target_clones). Swift's generic SIMD
 * types lowered some of these operations lane by lane (measured 10-70 ns per element). */
#include <stddef.h>

/* exp(x) in place: Cephes expf polynomial, <= 2 ulp on [-87.3, 88.7]; 0 below, +inf above, NaN kept. */
void isa_exp_inplace(float *x, ptrdiff_t n);
/* out = x - m, then exp, in place on `x`; returns the sum of the results (for softmax rows). */
float isa_exp_shifted_sum(float *x, ptrdiff_t n, float m);
/* out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (HF gelu_new). */
void isa_gelu_tanh_forward(float *out, const float *x, ptrdiff_t n);
/* dx += dout * gelu_new'(x). */
void isa_gelu_tanh_backward(float *dx, const float *dout, const float *x, ptrdiff_t n);
/* out = x * sigmoid(x). */
void isa_silu_forward(float *out, const float *x, ptrdiff_t n);
/* LayerNorm of rows [lo, hi) of x [rows, d]: statistics in double; w, b may be NULL. */
void isa_layernorm_rows(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                        ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t d, float eps);
/* Sum of exp(x - m) over n values (float within blocks of 64, double across). */
double isa_sum_exp(const float *x, ptrdiff_t n, float m);
/* out += g * exp(x - shift) (softmax gradients). */
void isa_add_scaled_exp(float *out, const float *x, ptrdiff_t n, float shift, float g);
void isa_scaled_exp_inplace(float *x, ptrdiff_t n, float shift, float g);
/* LayerNorm backward for rows [lo, hi): dx += rstd (g - mean(g) - xhat mean(g xhat)), g = dout w (w may be NULL). */
void isa_layernorm_backward_rows(float *dx, const float *dout, const float *x, const float *w,
                                 const float *mean, const float *rstd, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t d);
/* glibc: serve large blocks from the heap and keep freed memory (no page faults per pass). */
void isa_keep_large_allocations(void);
/* out = a + b. */
void isa_add(float *out, const float *a, const float *b, ptrdiff_t n);
#endif
