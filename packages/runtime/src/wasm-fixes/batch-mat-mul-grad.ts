import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import {
  BatchMatMul,
  broadcast_util,
  getBackend,
  getGradient,
  getKernel,
  matMul,
  registerGradient,
  reshape,
  sum,
  transpose,
  unregisterGradient,
  util,
} from '@tensorflow/tfjs-core';

import { swapLastTwoAxes } from './matrix-axes';
import { isNativeBatchMatMul } from './native-mat-mul-kernel';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

function transposeMatrices(x: Tensor): Tensor {
  return transpose(x, swapLastTwoAxes(x.rank));
}

/** Sums a gradient over the batch axes its input was broadcast along, and gives it the input's shape. */
function reduceToShape(gradient: Tensor, shape: number[]): Tensor {
  if (util.arraysEqual(gradient.shape, shape)) {
    return gradient;
  }
  const axes = broadcast_util.getReductionAxes(shape, gradient.shape);
  return reshape(axes.length > 0 ? sum(gradient, axes) : gradient, shape);
}

/**
 * The `BatchMatMul` gradient, computed with explicit transposes and plain products.
 *
 * The stock gradient calls `matMul` with transpose flags; on wasm a flagged product leaves XNNPACK
 * for a naive loop that is 10-20x slower. Here each gradient materialises one `tf.transpose` (a
 * copy, O(size)) and runs an unflagged product. It is also correct when the batch dims broadcast
 * (`[M,K] x [B,K,N]`, `[1,M,K] x [B,K,N]`): the stock gradient returns the broadcast shape there
 * and tfjs rejects it.
 *
 * For y = op(a) · op(b) with upstream gradient g:
 * - a·b:     da = g·bᵀ,      db = aᵀ·g
 * - a·bᵀ:    da = g·b,       db = gᵀ·a
 * - aᵀ·b:    da = b·gᵀ,      db = a·g
 * - aᵀ·bᵀ:   da = (g·b)ᵀ,    db = (a·g)ᵀ
 *
 * When the active backend's `BatchMatMul` is the native one (`@peftjs/native`), which reads
 * either layout at no cost, the products keep transpose flags instead (as the stock gradient
 * does) and only the broadcast reduction is added.
 */
export const batchMatMulGradConfig: GradConfig = {
  kernelName: BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved as [Tensor, Tensor];
    const g = dy as Tensor;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    let da: () => Tensor;
    let db: () => Tensor;
    if (isNativeBatchMatMul(getKernel(BatchMatMul, getBackend())?.kernelFunc)) {
      if (!transposeA && !transposeB) {
        da = () => matMul(g, b, false, true);
        db = () => matMul(a, g, true, false);
      } else if (!transposeA && transposeB) {
        da = () => matMul(g, b);
        db = () => matMul(g, a, true, false);
      } else if (transposeA && !transposeB) {
        da = () => matMul(b, g, false, true);
        db = () => matMul(a, g);
      } else {
        da = () => matMul(b, g, true, true);
        db = () => matMul(g, a, true, true);
      }
    } else if (!transposeA && !transposeB) {
      da = () => matMul(g, transposeMatrices(b));
      db = () => matMul(transposeMatrices(a), g);
    } else if (!transposeA && transposeB) {
      da = () => matMul(g, b);
      db = () => matMul(transposeMatrices(g), a);
    } else if (transposeA && !transposeB) {
      da = () => matMul(b, transposeMatrices(g));
      db = () => matMul(a, g);
    } else {
      da = () => transposeMatrices(matMul(g, b));
      db = () => transposeMatrices(matMul(a, g));
    }
    return { a: () => reduceToShape(da(), a.shape), b: () => reduceToShape(db(), b.shape) };
  },
};

/**
 * Gradients are global in tfjs (one registry for every backend). This one is registered only when
 * the wasm fixes are (wasm is where flagged products are slow); it is numerically the same as the
 * stock gradient, so it is left in place if the active backend later changes, and `unregister`
 * restores whatever gradient was registered before.
 */
export const batchMatMulGradFix: WasmFixUnit = {
  name: WasmFix.batchMatMulGrad,
  apply() {
    const previous = getGradient(BatchMatMul);
    registerGradient(batchMatMulGradConfig);
    return () => {
      if (getGradient(BatchMatMul) !== batchMatMulGradConfig) {
        return; // someone registered another gradient since; leave theirs
      }
      if (previous != null) {
        registerGradient(previous);
      } else {
        unregisterGradient(BatchMatMul);
      }
    };
  },
  isActive: () => getGradient(BatchMatMul) === batchMatMulGradConfig,
};
