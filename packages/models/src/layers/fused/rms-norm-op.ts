import * as tf from '@tensorflow/tfjs-core';

/**
 * Llama's RMSNorm, `x · rsqrt(mean(x²) + eps) · weight`, as one op with its own gradient; the
 * backward pass keeps the input and the weight only (the op-by-op tape keeps the square, the mean,
 * the product and the normalised copy as well).
 */
export function rmsNormOp(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, scale, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const inverse = tf.rsqrt(tf.add(tf.mean(tf.square(input), -1, true), epsilon));
    const value = tf.mul(scale, tf.mul(input, inverse));
    // Only tensors that exist outside the op are saved (tfjs counts new ones as leaked); the
    // inverse root mean square is recomputed in the backward pass.
    save([input, scale]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale] = saved as [tf.Tensor, tf.Tensor];
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(savedInput), -1, true), epsilon));
      const xHat = tf.mul(savedInput, rstd);
      const dxHat = tf.mul(dy, savedScale);
      const dx = tf.mul(rstd, tf.sub(dxHat, tf.mul(xHat, tf.mean(tf.mul(dxHat, xHat), -1, true))));
      const dWeight = tf.sum(tf.reshape(tf.mul(dy, xHat), [-1, savedScale.shape[0]!]), 0);
      return [dx, dWeight];
    };
    return { value, gradFunc };
  });
  return op(x, weight);
}
