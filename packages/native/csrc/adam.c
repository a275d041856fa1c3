/* Fused Adam / AdamW: one pass over a variable, its two moments and its gradient. */
#include "gemm.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PEFTJS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PEFTJS_CLONES
#endif

/*
 * Elementwise, in the order tfjs' AdamOptimizer computes it (float32 throughout, no contraction):
 *   m' = m·β1 + g·(1-β1);  v' = v·β2 + g²·(1-β2)
 *   x' = (m'/c1) / (sqrt(v'/c2) + ε) · (-lr) + x      (c = 1 - β^t)
 * AdamW first decays the variable: x ← x - x·(lr·wd).
 */
PEFTJS_CLONES
void peftjs_adam_range(const peftjs_adam_args *args, long begin, long end) {
  const float *restrict var = args->var, *restrict m = args->m, *restrict v = args->v, *restrict g = args->g;
  float *out_var = args->out_var, *out_m = args->out_m, *out_v = args->out_v;
  const float beta1 = args->beta1, beta2 = args->beta2, omb1 = args->one_minus_beta1, omb2 = args->one_minus_beta2;
  const float c1 = args->bias_correction1, c2 = args->bias_correction2, eps = args->epsilon, neg_lr = -args->lr;
  const float decay = args->lr * args->weight_decay;
  if (decay != 0.0f) {
    for (long i = begin; i < end; i++) {
      float x = var[i] - var[i] * decay;
      float gi = g[i];
      float mi = m[i] * beta1 + gi * omb1;
      float vi = v[i] * beta2 + (gi * gi) * omb2;
      out_m[i] = mi;
      out_v[i] = vi;
      out_var[i] = ((mi / c1) / (sqrtf(vi / c2) + eps)) * neg_lr + x;
    }
  } else {
    for (long i = begin; i < end; i++) {
      float gi = g[i];
      float mi = m[i] * beta1 + gi * omb1;
      float vi = v[i] * beta2 + (gi * gi) * omb2;
      out_m[i] = mi;
      out_v[i] = vi;
      out_var[i] = ((mi / c1) / (sqrtf(vi / c2) + eps)) * neg_lr + var[i];
    }
  }
}
