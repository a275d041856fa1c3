import * as tf from '@tensorflow/tfjs-core';

/**
 * `x · factor` for a constant factor, with the gradient `dy · factor` (the same numbers as
 * `tf.mul`). Nothing is kept for the backward pass: tfjs' Mul keeps both operands for the factor's
 * gradient, here the full-width LoRA output of every adapted layer.
 */
export function scaleBy<T extends tf.Tensor>(x: T, factor: number): T {
  const op = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.mul(input, factor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, factor),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T;
}
