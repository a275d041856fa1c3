/* Fused non-GEMM kernels of a transformer's training step (forward and backward), float32, row-major. */
#ifndef PEFTJS_FUSED_H
#define PEFTJS_FUSED_H

/* Operation codes of the addon's `fused(memory, params)` (params[0]); FusedOp in native-addon.ts. */
enum peftjs_fused_op {
  PEFTJS_FUSED_RMS_NORM = 1,
  PEFTJS_FUSED_RMS_NORM_GRAD = 2,
  PEFTJS_FUSED_SWIGLU = 3,
  PEFTJS_FUSED_SWIGLU_GRAD = 4,
  PEFTJS_FUSED_ROTARY = 5,
  PEFTJS_FUSED_SOFTMAX = 6,
  PEFTJS_FUSED_SOFTMAX_GRAD = 7,
  PEFTJS_FUSED_CROSS_ENTROPY = 8,
  PEFTJS_FUSED_GELU_TANH = 9,
  PEFTJS_FUSED_GELU_TANH_GRAD = 10,
  PEFTJS_FUSED_LAYER_NORM = 11,
  PEFTJS_FUSED_LAYER_NORM_GRAD = 12,
  PEFTJS_FUSED_TRANSPOSE = 13
};

/* y = x · rsqrt(mean(x²) + eps) · w over rows of `dim`. */
void peftjs_rms_norm(long rows, long dim, const float *x, const float *w, float *y, float eps);
/* dx and dw (summed over rows) of the above, recomputing the statistics from x. */
int peftjs_rms_norm_grad(long rows, long dim, const float *x, const float *w, const float *dy, float *dx, float *dw, float eps);
/* y = (x − mean) · rsqrt(var + eps) · gamma + beta over rows of `dim`; gamma, beta may be NULL. */
void peftjs_layer_norm(long rows, long dim, const float *x, const float *gamma, const float *beta, float *y, float eps);
/* dx, and dgamma / dbeta summed over rows (each may be NULL), recomputing the statistics from x. */
int peftjs_layer_norm_grad(long rows, long dim, const float *x, const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta, float eps);
/* y = silu(g) · u */
void peftjs_swiglu(long n, const float *g, const float *u, float *y);
void peftjs_swiglu_grad(long n, const float *g, const float *u, const float *dy, float *dg, float *du);
/* y = 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))) and its input gradient. */
void peftjs_gelu_tanh(long n, const float *x, float *y);
void peftjs_gelu_tanh_grad(long n, const float *x, const float *dy, float *dx);
/*
 * Rotary embedding over x [batch, heads, seq, dim] with cos, sin [cos_batch, 1, seq, dim]
 * (cos_batch 1 or batch): y = x·cos + rotate_half(x)·sin, or (transposed) its input gradient
 * y = x·cos + rotate_halfᵀ(x·sin).
 */
void peftjs_rotary(long batch, long heads, long seq, long dim, long cos_batch, const float *x, const float *cos, const float *sin, float *y, int transposed);
/*
 * Attention probabilities: scores [batch, heads, seq, keys] divided by each of `divisors` in turn,
 * plus bias [bias_batch, 1, seq, keys] (NULL: none), softmax over keys.
 */
void peftjs_softmax(long batch, long heads, long seq, long keys, const float *scores, const float *bias, long bias_batch, const double *divisors, int divisor_count, float *p);
/* dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale over rows of `keys`. */
void peftjs_softmax_grad(long rows, long keys, const float *p, const float *dp, float *ds, float scale);
/*
 * Cross-entropy of logits [rows, vocab] against labels: loss[r] = logsumexp(row) − row[label];
 * when grad is not NULL, grad = (softmax(row) − onehot(label)) · weight[r].
 */
void peftjs_cross_entropy(long rows, long vocab, const float *logits, const int *labels, const float *weights, float *loss, float *grad);

/*
 * y = transpose(x, perm) for a permutation that keeps the last axis last (rank ≤ 6): whole rows of
 * the last axis are copied. shape is x's.
 */
void peftjs_transpose_rows(int rank, const long *shape, const int *perm, const float *x, float *y);

#endif
