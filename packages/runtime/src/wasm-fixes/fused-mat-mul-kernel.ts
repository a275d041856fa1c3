import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { _FusedMatMul } from '@tensorflow/tfjs-core';

import { kernelOverrideFix } from './kernel-override';
import { disposeAll, materialiseTransposes } from './materialise-transposes';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * wasm `_FusedMatMul` (matmul + bias + activation) with transpose flags materialised, like the
 * `BatchMatMul` fix. `tf.fused.matMul` is what tfjs-layers' `Dense` runs, and its gradient (a
 * `customGrad` in tfjs-core that no registered gradient can replace) calls `matMul` with flags.
 */
export function createFusedMatMulKernel(stock: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const backend = args.backend as WasmBackend;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const { a: a0, b: b0 } = inputs as { a: TensorInfo; b: TensorInfo };
    if ((!transposeA && !transposeB) || a0.dtype !== 'float32' || b0.dtype !== 'float32') {
      return stock.kernelFunc(args);
    }
    const { a, b, temporaries } = materialiseTransposes(backend, a0, b0, transposeA, transposeB);
    try {
      return stock.kernelFunc({
        inputs: { ...inputs, a, b },
        backend: backend as never,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      disposeAll(backend, temporaries);
    }
  };
}

export const fusedMatMulKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.fusedMatMulKernel, _FusedMatMul, createFusedMatMulKernel);
