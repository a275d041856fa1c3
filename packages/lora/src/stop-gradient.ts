import * as tf from '@tensorflow/tfjs-core';

const identityWithoutGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * The value of `x`, with no gradient flowing back through it (torch's `.detach()`); tfjs has no
 * stopGradient op, so this is an identity whose custom gradient is zero.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return identityWithoutGradient(x) as T;
}
