import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, NativeFusedKernel, runFusedKernel } from './native-fused-kernels';

/**
 * The attention core `softmax(q kᵀ / d₁ / d₂ … + bias) v` as one op with a lean backward pass
 * that keeps q, k, v and the mask only and recomputes the probabilities (op by op, the tape keeps
 * the raw, scaled and biased scores and the probabilities: four `[batch, heads, seq, keys]` tensors).
 *
 * Shapes, grouped-query style: `q [batch, kvHeads, groups·seq, headDim]`, `k`, `v`
 * `[batch, kvHeads, keys, headDim]`, `bias [batch, 1, seq, keys]` (additive mask, no gradient).
 * Returns `[batch, kvHeads, groups·seq, headDim]`.
 *
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K / d,  dK = dSᵀ Q / d
 */
export function attentionOp(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor, numHeads: number, scoreDivisors: readonly number[]): tf.Tensor {
  const [batch, kvHeads, rows] = q.shape as [number, number, number, number];
  const keys = k.shape[2]!;
  const seq = (rows * kvHeads) / numHeads;
  const scale = scoreDivisors.reduce((product, divisor) => product / divisor, 1);
  // The native kernels: scaling, mask and softmax in one pass; the softmax gradient in one pass.
  const native =
    scoreDivisors.length <= 4 &&
    bias.rank === 4 &&
    (bias.shape[0] === 1 || bias.shape[0] === batch) &&
    bias.shape[1] === 1 &&
    bias.shape[2] === seq &&
    bias.shape[3] === keys &&
    hasFusedKernel(NativeFusedKernel.attentionSoftmax, q, k, v, bias);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [query, key, value, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const probabilitiesOf = (a: tf.Tensor, b: tf.Tensor, mask: tf.Tensor) => {
      if (native)
        return runFusedKernel(NativeFusedKernel.attentionSoftmax, { scores: tf.matMul(a, b, false, true), bias: mask }, { numHeads, divisors: [...scoreDivisors] }) as tf.Tensor;
      let scores = tf.matMul(a, b, false, true);
      // Divided in turn, as transformers does, so the forward values match op by op.
      for (const divisor of scoreDivisors) scores = tf.div(scores, divisor);
      scores = tf.add(tf.reshape(scores, [batch, numHeads, seq, keys]), mask);
      return tf.reshape(tf.softmax(scores, -1), [batch, kvHeads, rows, keys]);
    };
    // Only tensors that exist outside the op are saved (tfjs counts new ones as leaked); the
    // probabilities are recomputed in the backward pass.
    save([query, key, value, bias]);
    const output = tf.matMul(probabilitiesOf(query, key, bias), value);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedQuery, savedKey, savedValue, savedBias] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const p = probabilitiesOf(savedQuery, savedKey, savedBias);
      const dValue = tf.matMul(p, dy, true, false);
      const dProbabilities = tf.matMul(dy, savedValue, false, true);
      const dScores = native
        ? (runFusedKernel(NativeFusedKernel.softmaxGrad, { probabilities: p, dProbabilities }, { scale }) as tf.Tensor)
        : tf.mul(tf.mul(p, tf.sub(dProbabilities, tf.sum(tf.mul(dProbabilities, p), -1, true))), scale);
      return [tf.matMul(dScores, savedKey), tf.matMul(dScores, savedQuery, true, false), dValue];
    };
    return { value: output, gradFunc };
  });
  return op(q, k, v);
}
