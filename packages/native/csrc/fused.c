/*
 * Fused non-GEMM kernels: each replaces a chain of tfjs kernels (one pass over memory instead of
 * one per elementwise op, and no intermediates on the heap). Float32 arithmetic in the order of
 * the tfjs compositions they replace; reductions accumulate in float64, so results differ from
 * tfjs' float32 sums by rounding only.
 */
/*
 * Floating-point operations here never trap (no FP exceptions are enabled): telling the compiler
 * lets it if-convert the clamps and selects below, so the loops vectorise. Results are unchanged.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "fused.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PEFTJS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PEFTJS_CLONES
#endif

/*
 * expf without branches, so loops over it vectorise: 2^n · p(r) with x = n·ln2 + r, |r| ≤ ln2/2,
 * and p Cephes' degree-6 polynomial (≤ 2 ulp on the range). Below −87.3 it is 0 (softmax's masked
 * scores are −1e9), above 88.7 it saturates at FLT_MAX's neighbourhood.
 */
static inline float fast_exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447505531f;
  float clamped = x > hi ? hi : (x < lo ? lo : x);
  float n = floorf(clamped * 1.44269504088896341f + 0.5f);
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union {
    int32_t i;
    float f;
  } scale;
  scale.i = ((int32_t)n + 127) << 23;
  float result = p * scale.f;
  return x < lo ? 0.0f : result;
}

/*
 * Row reductions in 16 independent lanes, so they vectorise without reassociating a single chain
 * (-ffast-math is not used); the lanes are combined at the end.
 */
#define PEFTJS_LANES 16

static inline float lanes_max(long n, const float *restrict x) {
  float lanes[PEFTJS_LANES];
  for (int lane = 0; lane < PEFTJS_LANES; lane++) lanes[lane] = -INFINITY;
  long i = 0;
  for (; i + PEFTJS_LANES <= n; i += PEFTJS_LANES)
    for (int lane = 0; lane < PEFTJS_LANES; lane++) lanes[lane] = x[i + lane] > lanes[lane] ? x[i + lane] : lanes[lane];
  float maximum = -INFINITY;
  for (; i < n; i++) maximum = x[i] > maximum ? x[i] : maximum;
  for (int lane = 0; lane < PEFTJS_LANES; lane++) maximum = lanes[lane] > maximum ? lanes[lane] : maximum;
  return maximum;
}

static inline double lanes_sum(long n, const float *restrict x) {
  float lanes[PEFTJS_LANES] = {0};
  long i = 0;
  for (; i + PEFTJS_LANES <= n; i += PEFTJS_LANES)
    for (int lane = 0; lane < PEFTJS_LANES; lane++) lanes[lane] += x[i + lane];
  double sum = 0;
  for (; i < n; i++) sum += x[i];
  for (int lane = 0; lane < PEFTJS_LANES; lane++) sum += lanes[lane];
  return sum;
}

static inline double lanes_dot(long n, const float *restrict x, const float *restrict y) {
  float lanes[PEFTJS_LANES] = {0};
  long i = 0;
  for (; i + PEFTJS_LANES <= n; i += PEFTJS_LANES)
    for (int lane = 0; lane < PEFTJS_LANES; lane++) lanes[lane] += x[i + lane] * y[i + lane];
  double sum = 0;
  for (; i < n; i++) sum += x[i] * y[i];
  for (int lane = 0; lane < PEFTJS_LANES; lane++) sum += lanes[lane];
  return sum;
}

static inline void exp_shifted(long n, const float *restrict x, float shift, float *restrict out) {
  for (long i = 0; i < n; i++) out[i] = fast_exp(x[i] - shift);
}

PEFTJS_CLONES
static void rms_row(long dim, const float *restrict x, const float *restrict w, float *restrict y, float eps) {
  double sum = lanes_dot(dim, x, x);
  float inverse = 1.0f / sqrtf((float)(sum / (double)dim) + eps);
  for (long i = 0; i < dim; i++) y[i] = w[i] * (x[i] * inverse);
}

void peftjs_rms_norm(long rows, long dim, const float *x, const float *w, float *y, float eps) {
  for (long r = 0; r < rows; r++) rms_row(dim, x + r * dim, w, y + r * dim, eps);
}

PEFTJS_CLONES
static void rms_grad_row(long dim, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx, float *restrict dw, float eps) {
  double sum = lanes_dot(dim, x, x);
  float rstd = 1.0f / sqrtf((float)(sum / (double)dim) + eps);
  float lanes[PEFTJS_LANES] = {0};
  long i = 0;
  for (; i + PEFTJS_LANES <= dim; i += PEFTJS_LANES)
    for (int lane = 0; lane < PEFTJS_LANES; lane++) {
      float x_hat = x[i + lane] * rstd;
      lanes[lane] += (dy[i + lane] * w[i + lane]) * x_hat;
      dw[i + lane] += dy[i + lane] * x_hat;
    }
  double dot = 0;
  for (; i < dim; i++) {
    float x_hat = x[i] * rstd;
    dot += (dy[i] * w[i]) * x_hat;
    dw[i] += dy[i] * x_hat;
  }
  for (int lane = 0; lane < PEFTJS_LANES; lane++) dot += lanes[lane];
  float mean = (float)(dot / (double)dim);
  for (long i = 0; i < dim; i++) dx[i] = rstd * (dy[i] * w[i] - (x[i] * rstd) * mean);
}

int peftjs_rms_norm_grad(long rows, long dim, const float *x, const float *w, const float *dy, float *dx, float *dw, float eps) {
  /* dw summed over rows in float32, as tfjs' sum over the row axis does. */
  memset(dw, 0, (size_t)dim * sizeof(float));
  for (long r = 0; r < rows; r++) rms_grad_row(dim, x + r * dim, w, dy + r * dim, dx + r * dim, dw, eps);
  return 0;
}

/* Mean and 1/sqrt(variance + eps) of a row, the variance as the mean squared deviation (tf.moments). */
static inline void row_moments(long dim, const float *restrict x, float eps, float *mean, float *rstd) {
  float m = (float)(lanes_sum(dim, x) / (double)dim);
  float lanes[PEFTJS_LANES] = {0};
  long i = 0;
  for (; i + PEFTJS_LANES <= dim; i += PEFTJS_LANES)
    for (int lane = 0; lane < PEFTJS_LANES; lane++) lanes[lane] += (x[i + lane] - m) * (x[i + lane] - m);
  double sum = 0;
  for (; i < dim; i++) sum += (x[i] - m) * (x[i] - m);
  for (int lane = 0; lane < PEFTJS_LANES; lane++) sum += lanes[lane];
  *mean = m;
  *rstd = 1.0f / sqrtf((float)(sum / (double)dim) + eps);
}

PEFTJS_CLONES
static void layer_norm_row(long dim, const float *restrict x, const float *restrict gamma, const float *restrict beta, float *restrict y, float eps) {
  float mean, rstd;
  row_moments(dim, x, eps, &mean, &rstd);
  for (long i = 0; i < dim; i++) y[i] = (x[i] - mean) * rstd;
  if (gamma != NULL)
    for (long i = 0; i < dim; i++) y[i] = y[i] * gamma[i];
  if (beta != NULL)
    for (long i = 0; i < dim; i++) y[i] = y[i] + beta[i];
}

void peftjs_layer_norm(long rows, long dim, const float *x, const float *gamma, const float *beta, float *y, float eps) {
  for (long r = 0; r < rows; r++) layer_norm_row(dim, x + r * dim, gamma, beta, y + r * dim, eps);
}

PEFTJS_CLONES
static void layer_norm_grad_row(long dim, const float *restrict x, const float *restrict gamma, const float *restrict dy, float *restrict dx, float *restrict dgamma,
                                float *restrict dbeta, float *restrict x_hat, float *restrict dx_hat, float eps) {
  float mean, rstd;
  row_moments(dim, x, eps, &mean, &rstd);
  for (long i = 0; i < dim; i++) x_hat[i] = (x[i] - mean) * rstd;
  if (gamma != NULL) {
    for (long i = 0; i < dim; i++) dx_hat[i] = dy[i] * gamma[i];
  } else {
    memcpy(dx_hat, dy, (size_t)dim * sizeof(float));
  }
  float mean_dx_hat = (float)(lanes_sum(dim, dx_hat) / (double)dim);
  float mean_dot = (float)(lanes_dot(dim, dx_hat, x_hat) / (double)dim);
  for (long i = 0; i < dim; i++) dx[i] = rstd * ((dx_hat[i] - mean_dx_hat) - x_hat[i] * mean_dot);
  if (dgamma != NULL)
    for (long i = 0; i < dim; i++) dgamma[i] += dy[i] * x_hat[i];
  if (dbeta != NULL)
    for (long i = 0; i < dim; i++) dbeta[i] += dy[i];
}

int peftjs_layer_norm_grad(long rows, long dim, const float *x, const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta, float eps) {
  /* Two row-sized scratch rows (x̂ and dx̂), on the stack up to 8192 features. */
  float stack[2 * 8192];
  float *scratch = dim <= 8192 ? stack : (float *)malloc((size_t)dim * 2 * sizeof(float));
  if (scratch == NULL) return -1;
  if (dgamma != NULL) memset(dgamma, 0, (size_t)dim * sizeof(float));
  if (dbeta != NULL) memset(dbeta, 0, (size_t)dim * sizeof(float));
  for (long r = 0; r < rows; r++) layer_norm_grad_row(dim, x + r * dim, gamma, dy + r * dim, dx + r * dim, dgamma, dbeta, scratch, scratch + dim, eps);
  if (scratch != stack) free(scratch);
  return 0;
}

PEFTJS_CLONES
void peftjs_swiglu(long n, const float *restrict g, const float *restrict u, float *restrict y) {
  for (long i = 0; i < n; i++) {
    float sigmoid = 1.0f / (1.0f + fast_exp(-g[i]));
    y[i] = (g[i] * sigmoid) * u[i];
  }
}

PEFTJS_CLONES
void peftjs_swiglu_grad(long n, const float *restrict g, const float *restrict u, const float *restrict dy, float *restrict dg, float *restrict du) {
  for (long i = 0; i < n; i++) {
    float sigmoid = 1.0f / (1.0f + fast_exp(-g[i]));
    dg[i] = (dy[i] * u[i]) * (sigmoid * (1.0f + g[i] * (1.0f - sigmoid)));
    du[i] = dy[i] * (g[i] * sigmoid);
  }
}

/* tanh(z) = 1 − 2 / (e^{2z} + 1), through the branch-free exp. */
static inline float fast_tanh(float z) { return 1.0f - 2.0f / (fast_exp(2.0f * z) + 1.0f); }

#define PEFTJS_SQRT_2_OVER_PI 0.7978845608028654f

PEFTJS_CLONES
void peftjs_gelu_tanh(long n, const float *restrict x, float *restrict y) {
  for (long i = 0; i < n; i++) {
    float v = x[i];
    float inner = PEFTJS_SQRT_2_OVER_PI * (v + 0.044715f * (v * v * v));
    y[i] = (v * 0.5f) * (1.0f + fast_tanh(inner));
  }
}

PEFTJS_CLONES
void peftjs_gelu_tanh_grad(long n, const float *restrict x, const float *restrict dy, float *restrict dx) {
  for (long i = 0; i < n; i++) {
    float v = x[i], square = v * v;
    float t = fast_tanh(PEFTJS_SQRT_2_OVER_PI * (v + 0.044715f * (square * v)));
    float derivative = 0.5f * (1.0f + t) + ((0.5f * v) * (1.0f - t * t)) * (PEFTJS_SQRT_2_OVER_PI * (1.0f + (3.0f * 0.044715f) * square));
    dx[i] = dy[i] * derivative;
  }
}

PEFTJS_CLONES
static void rotary_row(long half, const float *restrict x, const float *restrict c, const float *restrict s, float *restrict y, int transposed) {
  if (!transposed) {
    for (long i = 0; i < half; i++) y[i] = x[i] * c[i] + (-x[i + half]) * s[i];
    for (long i = half; i < 2 * half; i++) y[i] = x[i] * c[i] + x[i - half] * s[i];
  } else {
    for (long i = 0; i < half; i++) y[i] = x[i] * c[i] + x[i + half] * s[i + half];
    for (long i = half; i < 2 * half; i++) y[i] = x[i] * c[i] + -(x[i - half] * s[i - half]);
  }
}

void peftjs_rotary(long batch, long heads, long seq, long dim, long cos_batch, const float *x, const float *cos, const float *sin, float *y, int transposed) {
  long half = dim / 2;
  for (long b = 0; b < batch; b++) {
    const float *c = cos + (cos_batch == 1 ? 0 : b) * seq * dim, *s = sin + (cos_batch == 1 ? 0 : b) * seq * dim;
    for (long h = 0; h < heads; h++)
      for (long t = 0; t < seq; t++) {
        long row = ((b * heads + h) * seq + t) * dim;
        rotary_row(half, x + row, c + t * dim, s + t * dim, y + row, transposed);
      }
  }
}

/* One row of softmax(x / d₁ / … + bias) over `keys`. */
PEFTJS_CLONES
static void softmax_row(long keys, const float *restrict x, const float *restrict bias, const double *divisors, int divisor_count, float *restrict p) {
  if (divisor_count == 0) {
    memcpy(p, x, (size_t)keys * sizeof(float));
  } else {
    float first = (float)divisors[0];
    for (long i = 0; i < keys; i++) p[i] = x[i] / first;
  }
  for (int d = 1; d < divisor_count; d++) {
    float divisor = (float)divisors[d];
    for (long i = 0; i < keys; i++) p[i] = p[i] / divisor;
  }
  if (bias != NULL)
    for (long i = 0; i < keys; i++) p[i] = p[i] + bias[i];
  float maximum = lanes_max(keys, p);
  for (long i = 0; i < keys; i++) p[i] = fast_exp(p[i] - maximum);
  float inverse = 1.0f / (float)lanes_sum(keys, p);
  for (long i = 0; i < keys; i++) p[i] = p[i] * inverse;
}

void peftjs_softmax(long batch, long heads, long seq, long keys, const float *scores, const float *bias, long bias_batch, const double *divisors, int divisor_count,
                    float *p) {
  for (long b = 0; b < batch; b++) {
    const float *rows_bias = bias == NULL ? NULL : bias + (bias_batch == 1 ? 0 : b) * seq * keys;
    for (long h = 0; h < heads; h++)
      for (long t = 0; t < seq; t++) {
        long row = ((b * heads + h) * seq + t) * keys;
        softmax_row(keys, scores + row, rows_bias == NULL ? NULL : rows_bias + t * keys, divisors, divisor_count, p + row);
      }
  }
}

PEFTJS_CLONES
static void softmax_grad_row(long keys, const float *restrict p, const float *restrict dp, float *restrict ds, float scale) {
  float dot = (float)lanes_dot(keys, dp, p);
  for (long i = 0; i < keys; i++) ds[i] = (p[i] * (dp[i] - dot)) * scale;
}

void peftjs_softmax_grad(long rows, long keys, const float *p, const float *dp, float *ds, float scale) {
  for (long r = 0; r < rows; r++) softmax_grad_row(keys, p + r * keys, dp + r * keys, ds + r * keys, scale);
}

#define PEFTJS_CE_BLOCK 2048

/* Σ exp(x − shift) over a row, each term written to `out`, or (out NULL) to a small buffer. */
PEFTJS_CLONES
static double exp_sum(long n, const float *restrict x, float shift, float *restrict out) {
  if (out != NULL) {
    exp_shifted(n, x, shift, out);
    return lanes_sum(n, out);
  }
  float block[PEFTJS_CE_BLOCK] __attribute__((aligned(64)));
  double sum = 0;
  for (long start = 0; start < n; start += PEFTJS_CE_BLOCK) {
    long count = n - start < PEFTJS_CE_BLOCK ? n - start : PEFTJS_CE_BLOCK;
    exp_shifted(count, x + start, shift, block);
    sum += lanes_sum(count, block);
  }
  return sum;
}

PEFTJS_CLONES
static float row_max(long n, const float *restrict x) { return lanes_max(n, x); }

PEFTJS_CLONES
static void scale_row(long n, float *restrict x, float factor, float weight) {
  for (long i = 0; i < n; i++) x[i] = (x[i] * factor) * weight;
}

void peftjs_cross_entropy(long rows, long vocab, const float *logits, const int *labels, const float *weights, float *loss, float *grad) {
  for (long r = 0; r < rows; r++) {
    const float *x = logits + r * vocab;
    float maximum = row_max(vocab, x);
    float *g = grad == NULL ? NULL : grad + r * vocab;
    float sum = (float)exp_sum(vocab, x, maximum, g);
    long label = labels[r];
    loss[r] = logf(sum) - (x[label] - maximum);
    if (g != NULL) {
      float weight = weights[r];
      float picked = g[label];
      scale_row(vocab, g, 1.0f / sum, weight);
      g[label] = (picked / sum - 1.0f) * weight;
    }
  }
}

void peftjs_transpose_rows(int rank, const long *shape, const int *perm, const float *x, float *y) {
  long strides[6], out_shape[6], out_strides[6], index[6] = {0};
  strides[rank - 1] = 1;
  for (int axis = rank - 2; axis >= 0; axis--) strides[axis] = strides[axis + 1] * shape[axis + 1];
  for (int axis = 0; axis < rank; axis++) {
    out_shape[axis] = shape[perm[axis]];
    out_strides[axis] = strides[perm[axis]]; /* input stride of each output axis */
  }
  long row = shape[rank - 1], rows = 1;
  for (int axis = 0; axis < rank - 1; axis++) rows *= out_shape[axis];
  long offset = 0;
  for (long r = 0; r < rows; r++) {
    memcpy(y + r * row, x + offset, (size_t)row * sizeof(float));
    /* next output row: an odometer over the output's leading axes, tracking the input offset */
    for (int axis = rank - 2; axis >= 0; axis--) {
      offset += out_strides[axis];
      if (++index[axis] < out_shape[axis]) break;
      offset -= out_strides[axis] * out_shape[axis];
      index[axis] = 0;
    }
  }
}
