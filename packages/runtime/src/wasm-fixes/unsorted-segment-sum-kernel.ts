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
 * It runs in JavaScript directly on the wasm heap, in one pass over `x`, adding into the output:
 * `out[s, …] = Σ x[i, …] over the positions i with segmentIds[i] == s`. Ids outside
 * `[0, numSegments)` are dropped, as on the cpu backend. `segmentIds` may have any rank (its shape a
 * prefix of x's); the output is `[numSegments, ...x.shape.slice(segmentIds.rank)]`, as in
 * TensorFlow. (tfjs' cpu kernel throws on N-D ids; the gradient of `gather` always passes 1-D ids.)
 */
export const unsortedSegmentSumKernel: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { x, segmentIds } = (args as KernelArgs).inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  const idsRank = segmentIds.shape.length;
  util.assert(
    util.arraysEqual(segmentIds.shape, x.shape.slice(0, idsRank)),
    () => `UnsortedSegmentSum: segmentIds shape ${segmentIds.shape} must be a prefix of x shape ${x.shape}`,
  );
  const outShape = [numSegments, ...x.shape.slice(idsRank)];
  const out = backend.makeOutput(outShape, x.dtype);
  const positions = util.sizeFromShape(segmentIds.shape);
  const block = util.sizeFromShape(x.shape.slice(idsRank)); // values that share one id
  // Views are taken after the output is allocated (allocation can grow the heap and detach them).
  const sums = backend.typedArrayFromHeap(out);
  sums.fill(0);
  const values = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let position = 0; position < positions; position++) {
    const segment = ids[position];
    if (!(segment >= 0 && segment < numSegments) || !Number.isInteger(segment)) {
      continue;
    }
    const from = position * block;
    const to = segment * block;
    for (let offset = 0; offset < block; offset++) {
      sums[to + offset] += values[from + offset];
    }
  }
  return out;
};

export const unsortedSegmentSumKernelFix: WasmFixUnit = missingKernelFix(WasmFix.unsortedSegmentSum, UnsortedSegmentSum, unsortedSegmentSumKernel);
