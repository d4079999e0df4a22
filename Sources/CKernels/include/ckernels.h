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
/* Attention head products (attention.c). Causal: query row i sees keys j < offset + i + 1 (capped at Tk);
 * each works on blocks of 4 rows, so keys up to the block's last row are computed for all its rows.
 * bt = b transposed to [D][ldbt] with zero padding; ldbt >= Tk rounded up to 32. */
void isa_transpose_pad(float *bt, ptrdiff_t ldbt, const float *b, ptrdiff_t ldb, ptrdiff_t T, ptrdiff_t D);
/* s[i][j] (+)= alpha * sum_d a[i][d] bt[d][j] for the visible block; without accumulate, the rest of each
 * row [block end, Tk) is set to fill. */
void isa_attn_scores(float *s, ptrdiff_t lds, const float *a, ptrdiff_t lda, const float *bt, ptrdiff_t ldbt,
                     ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t D, ptrdiff_t offset, float alpha, int accumulate, float fill);
/* z[i][d] (+)= alpha * sum_j p[i][j] v[j][d] over the block's keys (p must be 0, not garbage, past row i's own keys). */
void isa_attn_apply(float *z, ptrdiff_t ldz, const float *p, ptrdiff_t ldp, const float *v, ptrdiff_t ldv,
                    ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t D, ptrdiff_t offset, float alpha, int accumulate);
/* out[j][d] += alpha * sum_i p[i][j] x[i][d] over the rows that see key j (p^T x; p as for isa_attn_apply). */
void isa_attn_apply_t(float *out, ptrdiff_t ldo, const float *p, ptrdiff_t ldp, const float *x, ptrdiff_t ldx,
                      ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t D, ptrdiff_t offset, float alpha);
/* Whether p [Tq][Tk] has a nonzero (or NaN) entry after some row's last visible key (j > offset + i). */
int isa_weights_after_diagonal(const float *p, ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t offset);
/* Largest of x[0..<n], NaN if any is NaN (-inf for n == 0). */
float isa_max_nan(const float *x, ptrdiff_t n);
/* Softmax of each row i of s [Tq][Tk] over keys j <= offset + i (the rest set to 0); an all -inf row
 * becomes 0 and a NaN makes its row NaN. */
void isa_softmax_causal_rows(float *s, ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t offset);
/* x[i] *= s. */
void isa_scale_inplace(float *x, ptrdiff_t n, float s);
/* Runs fn(ctx, c) for c in [0, chunks) on the caller and up to `workers` pool threads (pool.c); returns
 * when all are done. Chunks run with the parallel depth raised, so nested calls run serially. */
typedef void (*isa_chunk_fn)(void *ctx, long chunk);
void isa_pool_run(long chunks, int workers, isa_chunk_fn fn, void *ctx);
/* The calling thread's count of enclosing parallel chunks, after adding delta (0 reads it). */
int isa_parallel_depth_add(int delta);
#endif
