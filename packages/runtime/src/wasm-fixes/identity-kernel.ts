import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { Identity } from '@tensorflow/tfjs-core';

import { kernelOverrideFix } from './kernel-override';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * wasm `Identity` that shares the input's heap memory (one more reference) instead of copying it,
 * as the cpu backend does and as wasm's own `Reshape` does. Tensors are immutable, so sharing is
 * safe. `Identity` runs for `tf.clone` and, during training, for every tensor a gradient saves.
 */
export function createIdentityKernel(stock: KernelConfig): KernelFunc {
  return (args) => {
    const { x } = (args as KernelArgs).inputs as { x: TensorInfo };
    if (x.dtype === 'string') {
      return stock.kernelFunc(args);
    }
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

export const identityKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.identityShare, Identity, createIdentityKernel);
