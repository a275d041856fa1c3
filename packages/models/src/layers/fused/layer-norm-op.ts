import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, NativeFusedKernel, runFusedKernel } from './native-fused-kernels';

/** Sums a `[..., size]` tensor to `[size]` (the per-feature gradient of a scale or offset). */
function sumToLast(x: tf.Tensor): tf.Tensor {
  return tf.sum(tf.reshape(x, [-1, x.shape[x.rank - 1]!]), 0);
}

/**
 * LayerNorm over the last axis, `(x − mean) · rsqrt(var + eps) · gamma + beta`, as one op with its
 * own gradient: the backward pass keeps only the input (and gamma) and recomputes the statistics
 * (tfjs-layers' LayerNormalization tiles mean, variance, gamma and beta to the input's shape,
 * and tfjs-core's Tile gradient is a loop over the copies). `gamma` / `beta` may be null.
 */
export function layerNormOp(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number): tf.Tensor {
  const parameters = [gamma, beta].filter((value): value is tf.Tensor => value !== null);
  const dim = x.shape[x.rank - 1];
  if (parameters.every((parameter) => parameter.rank === 1 && parameter.shape[0] === dim) && hasFusedKernel(NativeFusedKernel.layerNorm, x, ...parameters)) {
    return nativeLayerNorm(x, gamma, beta, epsilon);
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    const scale = gamma ? (args[1] as tf.Tensor) : null;
    const offset = beta ? (args[gamma ? 2 : 1] as tf.Tensor) : null;
    const { mean, variance } = tf.moments(input, -1, true);
    const inverse = tf.rsqrt(tf.add(variance, epsilon));
    const normalised = tf.mul(tf.sub(input, mean), inverse);
    let value = scale ? tf.mul(normalised, scale) : normalised;
    if (offset) value = tf.add(value, offset);
    // Only tensors that exist outside the op are saved (tfjs counts new ones as leaked); the
    // statistics are recomputed in the backward pass.
    save(scale ? [input, scale] : [input]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale] = saved as [tf.Tensor, tf.Tensor | undefined];
      const moments = tf.moments(savedInput, -1, true);
      const rstd = tf.rsqrt(tf.add(moments.variance, epsilon));
      const xHat = tf.mul(tf.sub(savedInput, moments.mean), rstd);
      const dxHat = savedScale ? tf.mul(dy, savedScale) : dy;
      const meanDxHat = tf.mean(dxHat, -1, true);
      const meanDxHatXHat = tf.mean(tf.mul(dxHat, xHat), -1, true);
      const dx = tf.mul(rstd, tf.sub(tf.sub(dxHat, meanDxHat), tf.mul(xHat, meanDxHatXHat)));
      const grads = [dx];
      if (savedScale) grads.push(sumToLast(tf.mul(dy, xHat)));
      if (offset) grads.push(sumToLast(dy));
      return grads;
    };
    return { value, gradFunc };
  });
  return op(x, ...parameters);
}

/** The same op on the native kernels: one pass forward; one pass backward for dx, dgamma and dbeta. */
function nativeLayerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    const scale = gamma ? (args[1] as tf.Tensor) : null;
    const offset = beta ? (args[gamma ? 2 : 1] as tf.Tensor) : null;
    const inputs: Record<string, tf.Tensor> = { x: input };
    if (scale) inputs.gamma = scale;
    if (offset) inputs.beta = offset;
    const value = runFusedKernel(NativeFusedKernel.layerNorm, inputs, { epsilon }) as tf.Tensor;
    save(scale ? [input, scale] : [input]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale] = saved as [tf.Tensor, tf.Tensor | undefined];
      const gradInputs: Record<string, tf.Tensor> = { x: savedInput, dy };
      if (savedScale) gradInputs.gamma = savedScale;
      return runFusedKernel(NativeFusedKernel.layerNormGrad, gradInputs, { epsilon, withBeta: offset !== null }) as tf.Tensor[];
    };
    return { value, gradFunc };
  });
  return op(x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : []));
}
