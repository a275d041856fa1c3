import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { UnsortedSegmentSum, util } from '@tensorflow/tfjs-core';

import { missingKernelFix } from './kernel-override';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * wasm `UnsortedSegmentSum`, which the wasm backend lacks. The gradient of `gather` (so of every
 * embedding lookup) is a segment sum.
 *
 * It runs in JavaScript directly on the wasm heap, in one pass over `x`, accumulating in float64.
 * Semantics follow the cpu backend: `out[s, …] = Σ x[i, …] over i with segmentIds[i] == s`; ids
 * outside `[0, numSegments)` are dropped. With N-D `segmentIds` (shape a prefix of x's shape) the
 * output is `[numSegments, ...x.shape.slice(1)]` and the sum runs over axis 0 only, as on cpu.
 */
export const unsortedSegmentSumKernel: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { x, segmentIds } = (args as KernelArgs).inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  const outShape = [numSegments, ...x.shape.slice(1)];
  const out = backend.makeOutput(outShape, x.dtype);
  const rows = x.shape.length === 0 ? 1 : x.shape[0];
  const rowSize = util.sizeFromShape(x.shape.slice(1));
  const idsPerRow = util.sizeFromShape(segmentIds.shape.slice(1));
  util.assert(
    util.sizeFromShape(segmentIds.shape) === rows * idsPerRow && rowSize % Math.max(idsPerRow, 1) === 0,
    () => `UnsortedSegmentSum: segmentIds shape ${segmentIds.shape} must be a prefix of x shape ${x.shape}`,
  );
  const sums = new Float64Array(util.sizeFromShape(outShape));
  if (sums.length > 0 && rowSize > 0) {
    const block = rowSize / idsPerRow; // values that share one id
    const values = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(segmentIds);
    for (let row = 0; row < rows; row++) {
      for (let part = 0; part < idsPerRow; part++) {
        const segment = ids[row * idsPerRow + part];
        if (!(segment >= 0 && segment < numSegments) || !Number.isInteger(segment)) {
          continue;
        }
        const from = row * rowSize + part * block;
        const to = segment * rowSize + part * block;
        for (let offset = 0; offset < block; offset++) {
          sums[to + offset] += values[from + offset];
        }
      }
    }
  }
  backend.typedArrayFromHeap(out).set(sums);
  return out;
};

export const unsortedSegmentSumKernelFix: WasmFixUnit = missingKernelFix(
  WasmFix.unsortedSegmentSum,
  UnsortedSegmentSum,
  unsortedSegmentSumKernel,
);
