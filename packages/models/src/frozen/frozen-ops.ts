import * as tf from '@tensorflow/tfjs-core';
import { frozenWeightTensor, type FrozenWeight } from './frozen-weight';

/**
 * Kernels `@peftjs/runtime` registers on the wasm backend when the native store is loaded: they
 * read the weight in place from native memory and write the result into the heap. Attributes:
 * `entry` (the store entry), `rows`, `cols` (the weight's shape) and, for the product,
 * `transposeWeight` (1: x·Wᵀ, 0: x·W).
 */
export const STORE_MAT_MUL_KERNEL = 'PeftjsStoreMatMul';
export const STORE_GATHER_KERNEL = 'PeftjsStoreGather';

function nativeKernel(weight: FrozenWeight, kernelName: string): boolean {
  return weight.entry !== undefined && tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

/** x·op(W) for a 2-D x, no gradient anywhere (the building block of the differentiable op below). */
function product(x: tf.Tensor2D, weight: FrozenWeight, transposeWeight: boolean): tf.Tensor2D {
  if (nativeKernel(weight, STORE_MAT_MUL_KERNEL)) {
    const attrs = { entry: weight.entry!, rows: weight.rows, cols: weight.cols, transposeWeight: transposeWeight ? 1 : 0 };
    return tf.engine().runKernel(STORE_MAT_MUL_KERNEL, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  // Without the native kernels: a float32 copy of the weight for this product only.
  return tf.tidy(() => tf.matMul(x, frozenWeightTensor(weight), false, transposeWeight));
}

/**
 * `x·Wᵀ` (transposeWeight, a Linear's forward: x `[..., cols]` → `[..., rows]`) or `x·W`, with a
 * gradient for x alone (`dy·W`, or `dy·Wᵀ`), computed from the store again: nothing of the weight
 * is kept on the tape, and the weight never gets a gradient.
 */
export function frozenMatMul(x: tf.Tensor, weight: FrozenWeight, transposeWeight = true): tf.Tensor {
  const inner = transposeWeight ? weight.cols : weight.rows;
  const outer = transposeWeight ? weight.rows : weight.cols;
  if (x.shape[x.rank - 1] !== inner) {
    throw new Error(`frozen weight [${weight.rows}, ${weight.cols}]: the input's last axis is ${x.shape[x.rank - 1]}, expected ${inner}`);
  }
  const op = tf.customGrad(((input: tf.Tensor) => {
    const flat = tf.reshape(input, [-1, inner]) as tf.Tensor2D;
    const value = tf.reshape(product(flat, weight, transposeWeight), [...input.shape.slice(0, -1), outer]);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.reshape(product(tf.reshape(dy, [-1, outer]) as tf.Tensor2D, weight, !transposeWeight), input.shape)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.tidy(() => op(x));
}

/** Rows of the weight by index (an embedding lookup): ids of any shape → `[...ids.shape, cols]`. */
export function frozenGather(ids: tf.Tensor, weight: FrozenWeight): tf.Tensor {
  return tf.tidy(() => {
    const flat = tf.reshape(ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32'), [ids.size]);
    let rows: tf.Tensor;
    if (nativeKernel(weight, STORE_GATHER_KERNEL)) {
      rows = tf
        .engine()
        .runKernel(STORE_GATHER_KERNEL, { indices: flat }, { entry: weight.entry!, rows: weight.rows, cols: weight.cols } as unknown as tf.NamedAttrMap) as tf.Tensor;
    } else {
      rows = tf.gather(frozenWeightTensor(weight), flat);
    }
    return tf.reshape(rows, [...ids.shape, weight.cols]);
  });
}
