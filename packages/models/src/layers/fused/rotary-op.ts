import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, NativeFusedKernel, runFusedKernel } from './native-fused-kernels';

/** `[a, b]` → `[−b, a]` over the last axis (transformers' rotate_half). */
function rotateHalf(x: tf.Tensor): tf.Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  const [first, second] = tf.split(x, [half, half], -1);
  return tf.concat([tf.neg(second!), first!], -1);
}

/** The transpose of rotate_half: `[a, b]` → `[b, −a]`. */
function rotateHalfTransposed(x: tf.Tensor): tf.Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  const [first, second] = tf.split(x, [half, half], -1);
  return tf.concat([second!, tf.neg(first!)], -1);
}

/** What the native kernel takes: x `[batch, heads, seq, even dim]`, cos and sin `[1 or batch, 1, seq, dim]`. */
function nativeShapes(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): boolean {
  const [batch, , seq, dim] = x.shape;
  const fits = (table: tf.Tensor) =>
    table.rank === 4 && (table.shape[0] === 1 || table.shape[0] === batch) && table.shape[1] === 1 && table.shape[2] === seq && table.shape[3] === dim;
  return x.rank === 4 && dim! % 2 === 0 && fits(cos) && fits(sin) && cos.shape[0] === sin.shape[0];
}

/**
 * Rotary position embedding `x · cos + rotate_half(x) · sin` as one op whose backward pass keeps
 * only `cos` and `sin` (op by op, the tape keeps `x` and its rotated copy too):
 * `dx = dy · cos + rotate_halfᵀ(dy · sin)`. `cos` / `sin` broadcast against `x` and get no gradient
 * (they come from position ids).
 */
export function rotaryOp(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const native = nativeShapes(x, cos, sin) && hasFusedKernel(NativeFusedKernel.rotary, x, cos, sin);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([cos, sin]);
    const value = native
      ? (runFusedKernel(NativeFusedKernel.rotary, { x: input, cos, sin }, { transposed: false }) as tf.Tensor)
      : tf.add(tf.mul(input, cos), tf.mul(rotateHalf(input), sin));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      const [savedCos, savedSin] = saved as [tf.Tensor, tf.Tensor];
      if (native) return runFusedKernel(NativeFusedKernel.rotary, { x: dy, cos: savedCos, sin: savedSin }, { transposed: true }) as tf.Tensor;
      return tf.add(tf.mul(dy, savedCos), rotateHalfTransposed(tf.mul(dy, savedSin)));
    };
    return { value, gradFunc };
  });
  return op(x);
}
