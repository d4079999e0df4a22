/* Attention head products, one (batch, head) per call on the calling thread, so the Swift side runs
 * heads in parallel on the Parallel pool. Causal rows only compute the keys a block of 4 query rows
 * can see. Register blocks of 4 rows x 32 columns use clang/GCC vector extensions, which lower to
 * AVX-512, AVX2 or SSE in the target_clones clones. */
#include "ckernels.h"
#include <string.h>

#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

/* Macros, not functions: a 64-byte vector argument would change the ABI of the non-AVX-512 clones. */
#define load16(p) (*(const v16u *)(p))
#define store16(p, v) (*(v16u *)(p) = (v))

/* The 4 x 32 register block shared by the three products: c<r><h> += x_r * b_h for rows r < 4 and
   16-wide halves h < 2 (8 independent accumulators keep both FMA units busy). */
#define BLOCK_ZERO v16 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0}
#define BLOCK_UPDATE(x0, x1, x2, x3, b0, b1) do { \
        c00 += (x0) * (b0); c01 += (x0) * (b1); c10 += (x1) * (b0); c11 += (x1) * (b1); \
        c20 += (x2) * (b0); c21 += (x2) * (b1); c30 += (x3) * (b0); c31 += (x3) * (b1); } while (0)
#define BLOCK_ROWS v16 acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}}

/* Row i0 + r of a matrix, or its last row (i0 + rows - 1) when r is past the block's end: the register
   block always has 4 rows, and the extra ones are computed but never stored. */
static inline const float *block_row(const float *base, ptrdiff_t ld, ptrdiff_t i0, ptrdiff_t r, ptrdiff_t rows) {
    return base + (i0 + (r < rows ? r : rows - 1)) * ld;
}

/* Keys visible to rows [i0, i0 + rows): j < min(Tk, offset + i0 + rows). */
static inline ptrdiff_t block_end(ptrdiff_t i0, ptrdiff_t rows, ptrdiff_t Tk, ptrdiff_t offset) {
    ptrdiff_t e = offset + i0 + rows;
    return e < Tk ? e : Tk;
}

void isa_transpose_pad(float *bt, ptrdiff_t ldbt, const float *b, ptrdiff_t ldb, ptrdiff_t T, ptrdiff_t D) {
    for (ptrdiff_t j = 0; j < T; j++) {
        const float *row = b + j * ldb;
        for (ptrdiff_t d = 0; d < D; d++) bt[d * ldbt + j] = row[d];
    }
    for (ptrdiff_t d = 0; d < D; d++)
        for (ptrdiff_t j = T; j < ldbt; j++) bt[d * ldbt + j] = 0.0f;
}

CLONES void isa_attn_scores(float *s, ptrdiff_t lds, const float *a, ptrdiff_t lda, const float *bt, ptrdiff_t ldbt,
                            ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t D, ptrdiff_t offset, float alpha, int accumulate,
                            float fill) {
    for (ptrdiff_t i0 = 0; i0 < Tq; i0 += 4) {
        ptrdiff_t rows = Tq - i0 < 4 ? Tq - i0 : 4;
        ptrdiff_t jend = block_end(i0, rows, Tk, offset);
        const float *a0 = block_row(a, lda, i0, 0, rows), *a1 = block_row(a, lda, i0, 1, rows);
        const float *a2 = block_row(a, lda, i0, 2, rows), *a3 = block_row(a, lda, i0, 3, rows);
        for (ptrdiff_t jc = 0; jc < jend; jc += 32) {
            BLOCK_ZERO;
            const float *col = bt + jc;
            for (ptrdiff_t d = 0; d < D; d++)
                BLOCK_UPDATE(a0[d], a1[d], a2[d], a3[d], load16(col + d * ldbt), load16(col + d * ldbt + 16));
            BLOCK_ROWS;
            ptrdiff_t w = jend - jc < 32 ? jend - jc : 32;
            for (ptrdiff_t r = 0; r < rows; r++) {
                float *out = s + (i0 + r) * lds + jc;
                float tmp[32];
                store16(tmp, alpha * acc[r][0]);
                store16(tmp + 16, alpha * acc[r][1]);
                if (accumulate) for (ptrdiff_t j = 0; j < w; j++) out[j] += tmp[j];
                else memcpy(out, tmp, (size_t)w * sizeof(float));
            }
        }
        if (!accumulate)
            for (ptrdiff_t r = 0; r < rows; r++)
                for (ptrdiff_t j = jend; j < Tk; j++) s[(i0 + r) * lds + j] = fill;
    }
}

CLONES void isa_attn_apply(float *z, ptrdiff_t ldz, const float *p, ptrdiff_t ldp, const float *v, ptrdiff_t ldv,
                           ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t D, ptrdiff_t offset, float alpha, int accumulate) {
    for (ptrdiff_t i0 = 0; i0 < Tq; i0 += 4) {
        ptrdiff_t rows = Tq - i0 < 4 ? Tq - i0 : 4;
        ptrdiff_t jend = block_end(i0, rows, Tk, offset);
        const float *p0 = block_row(p, ldp, i0, 0, rows), *p1 = block_row(p, ldp, i0, 1, rows);
        const float *p2 = block_row(p, ldp, i0, 2, rows), *p3 = block_row(p, ldp, i0, 3, rows);
        ptrdiff_t dc = 0;
        for (; dc + 32 <= D; dc += 32) {
            BLOCK_ZERO;
            for (ptrdiff_t j = 0; j < jend; j++)
                BLOCK_UPDATE(p0[j], p1[j], p2[j], p3[j], load16(v + j * ldv + dc), load16(v + j * ldv + dc + 16));
            BLOCK_ROWS;
            for (ptrdiff_t r = 0; r < rows; r++) {
                float *out = z + (i0 + r) * ldz + dc;
                if (accumulate) {
                    store16(out, load16(out) + alpha * acc[r][0]);
                    store16(out + 16, load16(out + 16) + alpha * acc[r][1]);
                } else {
                    store16(out, alpha * acc[r][0]);
                    store16(out + 16, alpha * acc[r][1]);
                }
            }
        }
        for (; dc < D; dc++) {   /* head sizes that are not a multiple of 32 */
            for (ptrdiff_t r = 0; r < rows; r++) {
                const float *pr = p + (i0 + r) * ldp;
                float sum = 0.0f;
                for (ptrdiff_t j = 0; j < jend; j++) sum += pr[j] * v[j * ldv + dc];
                float *out = z + (i0 + r) * ldz + dc;
                *out = accumulate ? *out + alpha * sum : alpha * sum;
            }
        }
    }
}

CLONES void isa_attn_apply_t(float *out, ptrdiff_t ldo, const float *p, ptrdiff_t ldp, const float *x, ptrdiff_t ldx,
                             ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t D, ptrdiff_t offset, float alpha) {
    for (ptrdiff_t j0 = 0; j0 < Tk; j0 += 4) {
        ptrdiff_t cols = Tk - j0 < 4 ? Tk - j0 : 4;
        /* Query rows that can see key j0 (and so any key of the block): i + offset >= j0. */
        ptrdiff_t istart = j0 - offset > 0 ? j0 - offset : 0;
        ptrdiff_t j1 = j0 + (cols > 1 ? 1 : 0), j2 = j0 + (cols > 2 ? 2 : cols - 1), j3 = j0 + (cols > 3 ? 3 : cols - 1);
        ptrdiff_t dc = 0;
        for (; dc + 32 <= D; dc += 32) {
            BLOCK_ZERO;
            for (ptrdiff_t i = istart; i < Tq; i++) {
                const float *pr = p + i * ldp;
                BLOCK_UPDATE(pr[j0], pr[j1], pr[j2], pr[j3], load16(x + i * ldx + dc), load16(x + i * ldx + dc + 16));
            }
            BLOCK_ROWS;
            for (ptrdiff_t c = 0; c < cols; c++) {
                float *o = out + (j0 + c) * ldo + dc;
                store16(o, load16(o) + alpha * acc[c][0]);
                store16(o + 16, load16(o + 16) + alpha * acc[c][1]);
            }
        }
        for (; dc < D; dc++) {
            for (ptrdiff_t c = 0; c < cols; c++) {
                float sum = 0.0f;
                for (ptrdiff_t i = istart; i < Tq; i++) sum += p[i * ldp + j0 + c] * x[i * ldx + dc];
                out[(j0 + c) * ldo + dc] += alpha * sum;
            }
        }
    }
}

CLONES int isa_weights_after_diagonal(const float *p, ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t offset) {
    for (ptrdiff_t i = 0; i < Tq; i++) {
        const float *row = p + i * Tk;
        int any = 0;
        for (ptrdiff_t j = offset + i + 1; j < Tk; j++) any |= row[j] != 0.0f;   /* NaN != 0 too */
        if (any) return 1;
    }
    return 0;
}
