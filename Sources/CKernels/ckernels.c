#include "ckernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

static inline float bits_to_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }

/* Cephes expf; branch-free so the loops vectorise. */
static inline float exp_approx(float x) {
    const float hi = 88.72283f, lo = -87.33654f, magic = 12582912.0f; /* 1.5 * 2^23 */
    int over = x > hi, under = x < lo;
    float xc = over ? hi : (under ? lo : x);
    float n = (xc * 1.44269504088896341f + magic) - magic; /* round to nearest even */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t ni = (int32_t)n; /* n in [-126, 128]; garbage only for NaN, where p is NaN */
    int32_t half = ni >> 1;
    float s = p * bits_to_float((half + 127) << 23) * bits_to_float((ni - half + 127) << 23);
    s = under ? 0.0f : s;
    return over ? INFINITY : s;
}

/* tanh via exp, saturating at exactly +-1 for |x| >= 10; NaN propagates. */
static inline float tanh_approx(float x) {
    float c = x > 10.0f ? 10.0f : (x < -10.0f ? -10.0f : x);
    float e = exp_approx(c + c);
    float t = 1.0f - 2.0f / (e + 1.0f);
    return x != x ? x : t;
}

CLONES void isa_exp_inplace(float *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = exp_approx(x[i]);
}

/* Reductions keep 16 independent partial sums so the loop vectorises without reassociation flags. */
#define LANES 16

/* exp(x - m) in place, returning the sum. Helpers shared by several clones are always inlined: a
   plain `static inline` one was compiled once, for the baseline target, and every clone called that
   scalar copy. Two passes (exp, then a 16-lane sum in the same order as one fused pass, so the same
   bits): the exp loop vectorises with its tail, where the fused block left each row's tail scalar,
   which matters for attention's short rows (a 128-row causal head: 21 -> 13 us). */
static inline __attribute__((always_inline)) float exp_shifted_sum(float *x, ptrdiff_t n, float m) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = exp_approx(x[i] - m);
    float acc[LANES] = {0};
    ptrdiff_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    float sum = 0.0f;
    for (; i < n; i++) sum += x[i];
    for (int j = 0; j < LANES; j++) sum += acc[j];
    return sum;
}

CLONES float isa_exp_shifted_sum(float *x, ptrdiff_t n, float m) { return exp_shifted_sum(x, n, m); }

#define GELU_C 0.7978845608028654f

CLONES void isa_gelu_tanh_forward(float *out, const float *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanh_approx(GELU_C * (v + 0.044715f * v * v * v)));
    }
}

CLONES void isa_gelu_tanh_backward(float *dx, const float *dout, const float *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float t = tanh_approx(GELU_C * (v + 0.044715f * v * v * v));
        float dudx = GELU_C * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dudx);
    }
}

CLONES void isa_silu_forward(float *out, const float *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) { float v = x[i]; out[i] = v / (1.0f + exp_approx(-v)); }
}

CLONES void isa_layernorm_rows(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                               ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t d, float eps) {
    for (ptrdiff_t r = lo; r < hi; r++) {
        const float *row = x + r * d;
        /* Double statistics with 8 independent partial sums (vectorisable, no reassociation flags). */
        double sa[8] = {0}, va[8] = {0};
        ptrdiff_t i0 = 0;
        for (; i0 + 8 <= d; i0 += 8) for (int j = 0; j < 8; j++) sa[j] += row[i0 + j];
        double s = 0.0;
        for (ptrdiff_t i = i0; i < d; i++) s += row[i];
        for (int j = 0; j < 8; j++) s += sa[j];
        double mu = s / (double)d;
        for (i0 = 0; i0 + 8 <= d; i0 += 8) for (int j = 0; j < 8; j++) { double c = row[i0 + j] - mu; va[j] += c * c; }
        double v = 0.0;
        for (ptrdiff_t i = i0; i < d; i++) { double c = row[i] - mu; v += c * c; }
        for (int j = 0; j < 8; j++) v += va[j];
        float m = (float)mu, rs = (float)(1.0 / sqrt(v / (double)d + (double)eps));
        mean[r] = m; rstd[r] = rs;
        float *o = out + r * d;
        if (w && b) for (ptrdiff_t i = 0; i < d; i++) o[i] = (row[i] - m) * rs * w[i] + b[i];
        else if (w) for (ptrdiff_t i = 0; i < d; i++) o[i] = (row[i] - m) * rs * w[i];
        else for (ptrdiff_t i = 0; i < d; i++) o[i] = (row[i] - m) * rs;
    }
}

CLONES void isa_add(float *out, const float *a, const float *b, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

CLONES double isa_sum_exp(const float *x, ptrdiff_t n, float m) {
    /* 16 float partial sums, folded into a double every 1024 elements. */
    double total = 0.0;
    ptrdiff_t i = 0;
    while (i < n) {
        ptrdiff_t end = i + 1024 < n ? i + 1024 : n;
        float acc[LANES] = {0};
        for (; i + LANES <= end; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] += exp_approx(x[i + j] - m);
        float s = 0.0f;
        for (; i < end; i++) s += exp_approx(x[i] - m);
        for (int j = 0; j < LANES; j++) s += acc[j];
        total += s;
    }
    return total;
}

CLONES void isa_add_scaled_exp(float *out, const float *x, ptrdiff_t n, float shift, float g) {
    for (ptrdiff_t i = 0; i < n; i++) out[i] += g * exp_approx(x[i] - shift);
}

/* x[i] = g·exp(x[i] − shift), in place (one pointer, so the loop vectorises without alias checks). */
CLONES void isa_scaled_exp_inplace(float *x, ptrdiff_t n, float shift, float g) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = g * exp_approx(x[i] - shift);
}

CLONES void isa_layernorm_backward_rows(float *dx, const float *dout, const float *x, const float *w,
                                        const float *mean, const float *rstd, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t d) {
    for (ptrdiff_t r = lo; r < hi; r++) {
        const float *g = dout + r * d, *xr = x + r * d;
        float *o = dx + r * d;
        float mu = mean[r], rs = rstd[r];
        float ag[LANES] = {0}, agx[LANES] = {0};
        ptrdiff_t i0 = 0;
        for (; i0 + LANES <= d; i0 += LANES)
            for (int j = 0; j < LANES; j++) {
                float gi = w ? g[i0 + j] * w[i0 + j] : g[i0 + j];
                ag[j] += gi;
                agx[j] += gi * (xr[i0 + j] - mu) * rs;
            }
        float sumG = 0.0f, sumGX = 0.0f;
        for (ptrdiff_t i = i0; i < d; i++) {
            float gi = w ? g[i] * w[i] : g[i];
            sumG += gi;
            sumGX += gi * (xr[i] - mu) * rs;
        }
        for (int j = 0; j < LANES; j++) { sumG += ag[j]; sumGX += agx[j]; }
        float mG = sumG / (float)d, mGX = sumGX / (float)d;
        for (ptrdiff_t i = 0; i < d; i++) {
            float gi = w ? g[i] * w[i] : g[i];
            float xh = (xr[i] - mu) * rs;
            o[i] += rs * (gi - mG - xh * mGX);
        }
    }
}

#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
/* glibc serves blocks above M_MMAP_THRESHOLD (at most 32 MiB on 64-bit: larger values are refused)
   with mmap and unmaps them on free, so every step's large tensors (e.g. [rows, 262144] logits) page
   fault afresh. Serving everything from the heap and never trimming it keeps freed memory mapped. */
void isa_keep_large_allocations(void) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    mallopt(M_ARENA_MAX, 1);
}
#else
void isa_keep_large_allocations(void) {}
#endif

static inline __attribute__((always_inline)) float max_nan(const float *x, ptrdiff_t n) {
    float acc[LANES];
    for (int j = 0; j < LANES; j++) acc[j] = -INFINITY;
    ptrdiff_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) { float v = x[i + j]; acc[j] = (v > acc[j] || v != v) ? v : acc[j]; }
    float m = -INFINITY;
    for (; i < n; i++) { float v = x[i]; m = (v > m || v != v) ? v : m; }
    for (int j = 0; j < LANES; j++) m = (acc[j] > m || acc[j] != acc[j]) ? acc[j] : m;
    return m;
}

CLONES float isa_max_nan(const float *x, ptrdiff_t n) { return max_nan(x, n); }

/* One call for all rows of a plain causal pattern (one call per row cost more than the row). */
CLONES void isa_softmax_causal_rows(float *s, ptrdiff_t Tq, ptrdiff_t Tk, ptrdiff_t offset) {
    for (ptrdiff_t i = 0; i < Tq; i++) {
        float *row = s + i * Tk;
        ptrdiff_t n = offset + i + 1 < Tk ? offset + i + 1 : Tk;
        float m = max_nan(row, n);
        if (m == -INFINITY) { memset(row, 0, (size_t)Tk * sizeof(float)); continue; }
        float inv = 1.0f / exp_shifted_sum(row, n, m);
        for (ptrdiff_t j = 0; j < n; j++) row[j] *= inv;
        if (n < Tk) memset(row + n, 0, (size_t)(Tk - n) * sizeof(float));
    }
}

CLONES void isa_scale_inplace(float *x, ptrdiff_t n, float s) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] *= s;
}

/* Thread-local: Swift has no cheap thread-local storage of its own. */
static _Thread_local int parallel_depth;
int isa_parallel_depth_add(int delta) { parallel_depth += delta; return parallel_depth; }
