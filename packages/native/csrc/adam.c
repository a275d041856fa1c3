/* Fused Adam / AdamW: one pass over a variable, its two moments and its gradient. */
#include "gemm.h"

#include <math.h>
#include <string.h>

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
#define PEFTJS_ADAM_BLOCK 256

/*
 * The outputs may be the inputs (an in-place update), so each block is computed into local
 * arrays from restrict-qualified inputs (which the compiler vectorises) and then copied out.
 */
PEFTJS_CLONES
static void adam_block(const peftjs_adam_args *args, long begin, long count, float *restrict x_out, float *restrict m_out, float *restrict v_out) {
  const float *restrict var = args->var + begin, *restrict m = args->m + begin, *restrict v = args->v + begin, *restrict g = args->g + begin;
  const float beta1 = args->beta1, beta2 = args->beta2, omb1 = args->one_minus_beta1, omb2 = args->one_minus_beta2;
  const float c1 = args->bias_correction1, c2 = args->bias_correction2, eps = args->epsilon, neg_lr = -args->lr;
  const float decay = args->lr * args->weight_decay;
  for (long i = 0; i < count; i++) {
    float x = decay != 0.0f ? var[i] - var[i] * decay : var[i];
    float gi = g[i];
    float mi = m[i] * beta1 + gi * omb1;
    float vi = v[i] * beta2 + (gi * gi) * omb2;
    m_out[i] = mi;
    v_out[i] = vi;
    x_out[i] = ((mi / c1) / (sqrtf(vi / c2) + eps)) * neg_lr + x;
  }
}

void peftjs_adam_range(const peftjs_adam_args *args, long begin, long end) {
  float x[PEFTJS_ADAM_BLOCK] __attribute__((aligned(64)));
  float m[PEFTJS_ADAM_BLOCK] __attribute__((aligned(64)));
  float v[PEFTJS_ADAM_BLOCK] __attribute__((aligned(64)));
  for (long start = begin; start < end; start += PEFTJS_ADAM_BLOCK) {
    long count = end - start < PEFTJS_ADAM_BLOCK ? end - start : PEFTJS_ADAM_BLOCK;
    adam_block(args, start, count, x, m, v);
    memcpy(args->out_var + start, x, (size_t)count * sizeof(float));
    memcpy(args->out_m + start, m, (size_t)count * sizeof(float));
    memcpy(args->out_v + start, v, (size_t)count * sizeof(float));
  }
}
