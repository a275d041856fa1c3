import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, NativeFusedKernel, runFusedKernel } from './native-fused-kernels';

/**
 * Llama's RMSNorm, `x · rsqrt(mean(x²) + eps) · weight`, as one op with its own gradient; the
 * backward pass keeps the input and the weight only (the op-by-op tape keeps the square, the mean,
 * the product and the normalised copy as well).
 */
export function rmsNormOp(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  if (weight.rank === 1 && weight.shape[0] === x.shape[x.rank - 1] && hasFusedKernel(NativeFusedKernel.rmsNorm, x, weight)) return nativeRmsNorm(x, weight, epsilon);
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

/** The same op on the native kernels: one pass forward, one pass backward (dx and the weight's gradient). */
function nativeRmsNorm(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, scale, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([input, scale]);
    const value = runFusedKernel(NativeFusedKernel.rmsNorm, { x: input, weight: scale }, { epsilon }) as tf.Tensor;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale] = saved as [tf.Tensor, tf.Tensor];
      return runFusedKernel(NativeFusedKernel.rmsNormGrad, { x: savedInput, weight: savedScale, dy }, { epsilon }) as tf.Tensor[];
    };
    return { value, gradFunc };
  });
  return op(x, weight);
}
