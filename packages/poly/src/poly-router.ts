import * as tf from '@tensorflow/tfjs-core';

/** PEFT's EPS in the router's normalisation. */
const EPS = 1e-12;
/** torch's clamp_probs bound for float32 (finfo.eps). */
const PROBABILITY_EPS = 1.1920928955078125e-7;

/**
 * PEFT's PolyRouter: each row's task picks its row of `module_logits` `[n_tasks, n_splits · n_skills]`;
 * in evaluation the skill weights are sigmoid(logits), in training a RelaxedBernoulli sample at
 * temperature 1 (`sigmoid(logit(p) + log u − log(1 − u))`); each split's weights are normalised to
 * sum to 1. Returns `[batch, n_splits, n_skills]`.
 */
export function mixingWeights(moduleLogits: tf.Tensor, taskIds: readonly number[], nSplits: number, nSkills: number, training: boolean): tf.Tensor3D {
  return tf.tidy(() => {
    const rows = tf.gather(moduleLogits, tf.tensor1d([...taskIds], 'int32'));
    const logits = tf.reshape(rows, [taskIds.length, nSplits, nSkills]);
    let weights: tf.Tensor;
    if (training) {
      const probabilities = tf.clipByValue(tf.sigmoid(logits), PROBABILITY_EPS, 1 - PROBABILITY_EPS);
      const uniforms = tf.clipByValue(tf.randomUniform(logits.shape, 0, 1), PROBABILITY_EPS, 1 - PROBABILITY_EPS);
      const logistic = tf.add(tf.sub(tf.log(uniforms), tf.log1p(tf.neg(uniforms))), tf.sub(tf.log(probabilities), tf.log1p(tf.neg(probabilities))));
      weights = tf.sigmoid(logistic);
    } else {
      weights = tf.sigmoid(logits);
    }
    return tf.div(weights, tf.add(tf.sum(weights, -1, true), EPS)) as tf.Tensor3D;
  });
}
