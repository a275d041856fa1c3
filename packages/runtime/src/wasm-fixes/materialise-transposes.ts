import type { TensorInfo } from '@tensorflow/tfjs-core';
import { Transpose } from '@tensorflow/tfjs-core';

import { swapLastTwoAxes } from './matrix-axes';
import type { WasmBackend } from './wasm-backend-internals';
import { runWasmKernel } from './wasm-backend-internals';

/**
 * Replaces a flagged operand by its transpose (the wasm `Transpose` kernel, a tiled copy), so the
 * product can run without flags. The caller disposes `temporaries` once the product is made.
 */
export function materialiseTransposes(
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { a: TensorInfo; b: TensorInfo; temporaries: TensorInfo[] } {
  const temporaries: TensorInfo[] = [];
  const flip = (x: TensorInfo): TensorInfo => {
    const flipped = runWasmKernel(Transpose, backend, { x }, { perm: swapLastTwoAxes(x.shape.length) });
    temporaries.push(flipped);
    return flipped;
  };
  return { a: transposeA ? flip(a) : a, b: transposeB ? flip(b) : b, temporaries };
}

export function disposeAll(backend: WasmBackend, tensors: readonly TensorInfo[]): void {
  for (const tensor of tensors) {
    backend.disposeData(tensor.dataId);
  }
}
