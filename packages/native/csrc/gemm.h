/* peftjs native kernels: SGEMM with a bias/activation epilogue, fused Adam. */
#ifndef PEFTJS_GEMM_H
#define PEFTJS_GEMM_H

#include <stddef.h>

struct peftjs_weight;

enum peftjs_activation {
  PEFTJS_ACT_LINEAR = 0,
  PEFTJS_ACT_RELU = 1,
  PEFTJS_ACT_RELU6 = 2,
  PEFTJS_ACT_LEAKYRELU = 3,
  PEFTJS_ACT_SIGMOID = 4,
  PEFTJS_ACT_ELU = 5,
  PEFTJS_ACT_PRELU = 6
};

enum peftjs_isa { PEFTJS_ISA_PORTABLE = 0, PEFTJS_ISA_AVX2 = 1, PEFTJS_ISA_AVX512 = 2 };

/* One matrix product C = act(op(A)·op(B) + bias), row-major, op(A) M×K, op(B) K×N, C M×N. */
typedef struct {
  long m, n, k;
  const float *a; long lda; int trans_a; /* A stored M×K (lda ≥ K) or, transposed, K×M (lda ≥ M) */
  const float *b; long ldb; int trans_b; /* B stored K×N (ldb ≥ N) or, transposed, N×K (ldb ≥ K) */
  float *c; long ldc;
  const float *bias;  /* NULL, or one value per column (bias_scalar = 0) or one for all (bias_scalar = 1) */
  int bias_scalar;
  int activation;     /* enum peftjs_activation */
  float alpha;        /* leakyrelu slope */
  const float *prelu; /* prelu slopes, one per column (or one for all when prelu_scalar) */
  int prelu_scalar;
  /* B read from a frozen-weight store entry instead of `b`, dequantised while it is packed:
   * B(p, j) = W[bw_row0 + j][bw_col0 + p] when trans_b (x·Wᵀ), else W[bw_row0 + p][bw_col0 + j]. */
  const struct peftjs_weight *bw;
  long bw_row0, bw_col0;
} peftjs_gemm_args;

/* The ISA the CPU supports best (what `peftjs_gemm` uses unless forced). */
int peftjs_detect_isa(void);
/* Forces an ISA (for tests); returns 0 when the CPU lacks it. -1 restores detection. */
int peftjs_set_isa(int isa);
int peftjs_current_isa(void);
void peftjs_gemm(const peftjs_gemm_args *args);

/* Threads (1 = the calling thread only). */
int peftjs_set_threads(int threads);
int peftjs_get_threads(void);

typedef struct {
  long n;
  const float *var, *m, *v, *g;
  float *out_var, *out_m, *out_v;
  float lr, beta1, beta2, one_minus_beta1, one_minus_beta2, epsilon;
  float bias_correction1, bias_correction2; /* 1 - beta^t */
  float weight_decay;                       /* AdamW: decoupled, var *= 1 - lr·wd first */
} peftjs_adam_args;

void peftjs_adam(const peftjs_adam_args *args);

#endif
