import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { GatherV2, SplitV } from '@tensorflow/tfjs-core';

import { kernelOverrideFix } from './kernel-override';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import { heapOffset, heapView } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * Contiguous runs shorter than this many values go to the stock kernel: one `copyWithin` per run
 * pays off only for rows (an embedding row, a head's slice of a fused projection).
 */
const MIN_RUN = 16;

const sizeOf = (shape: readonly number[]) => shape.reduce((product, dim) => product * dim, 1);
const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * wasm `GatherV2` by whole rows: each output run `x[outer, index, :]` is one heap-to-heap copy.
 * tfjs-wasm's kernel walks the output value by value (18 ms for 512 embedding rows of 768 values,
 * against well under 1 ms here). Indices out of range throw, naming the index and the range.
 */
export function createGatherRowsKernel(below: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis: axisAttr, batchDims } = attrs as unknown as { axis: number; batchDims?: number };
    const axis = axisAttr < 0 ? axisAttr + x.shape.length : axisAttr;
    const inner = sizeOf(x.shape.slice(axis + 1));
    const bytes = BYTES[x.dtype];
    if ((batchDims ?? 0) !== 0 || bytes === undefined || indices.dtype !== 'int32' || inner < MIN_RUN || axis < 0 || axis >= x.shape.length) {
      return below.kernelFunc(args);
    }
    const backend = args.backend as WasmBackend;
    const rows = x.shape[axis]!;
    const outer = sizeOf(x.shape.slice(0, axis));
    const count = sizeOf(indices.shape);
    const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
    if (outer * count * inner === 0) return out;
    // Views after the output exists (allocating can grow the heap and detach older views).
    const heap = heapView(backend);
    const ids = new Int32Array(heap.buffer, heap.byteOffset + heapOffset(backend, indices), count);
    const source = heapOffset(backend, x);
    const target = heapOffset(backend, out);
    const run = inner * bytes;
    for (let index = 0; index < count; index++) {
      const row = ids[index]!;
      if (row < 0 || row >= rows) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: index ${row} (at position ${index}) is not in [0, ${rows - 1}]`);
      }
    }
    for (let o = 0; o < outer; o++) {
      const from = source + o * rows * run;
      const to = target + o * count * run;
      for (let index = 0; index < count; index++) {
        const start = from + ids[index]! * run;
        heap.copyWithin(to + index * run, start, start + run);
      }
    }
    return out;
  };
}

/**
 * wasm `SplitV` by whole runs: each output's part of each outer row is one heap-to-heap copy (the
 * q, k and v thirds of GPT-2's fused projection: 1 ms where the stock kernel took 3–15 ms).
 */
export function createSplitRowsKernel(below: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis: axisAttr } = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const axis = axisAttr < 0 ? axisAttr + x.shape.length : axisAttr;
    const bytes = BYTES[x.dtype];
    const length = x.shape[axis];
    if (bytes === undefined || length === undefined) return below.kernelFunc(args);
    let sizes: number[];
    if (typeof numOrSizeSplits === 'number') {
      if (numOrSizeSplits <= 0 || length % numOrSizeSplits !== 0) return below.kernelFunc(args);
      sizes = new Array<number>(numOrSizeSplits).fill(length / numOrSizeSplits);
    } else {
      sizes = [...numOrSizeSplits];
      const unknown = sizes.indexOf(-1);
      if (unknown >= 0) sizes[unknown] = length - sizes.reduce((sum, size, index) => (index === unknown ? sum : sum + size), 0);
      if (sizes.some((size) => size < 0) || sizes.reduce((sum, size) => sum + size, 0) !== length) return below.kernelFunc(args);
    }
    const inner = sizeOf(x.shape.slice(axis + 1));
    if (Math.min(...sizes) * inner < MIN_RUN) return below.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const outer = sizeOf(x.shape.slice(0, axis));
    const outputs = sizes.map((size) => backend.makeOutput([...x.shape.slice(0, axis), size, ...x.shape.slice(axis + 1)], x.dtype));
    const heap = heapView(backend);
    const source = heapOffset(backend, x);
    const rowBytes = length * inner * bytes;
    let offset = 0;
    outputs.forEach((output, part) => {
      const run = sizes[part]! * inner * bytes;
      const target = heapOffset(backend, output);
      for (let o = 0; o < outer; o++) {
        const start = source + o * rowBytes + offset;
        heap.copyWithin(target + o * run, start, start + run);
      }
      offset += run;
    });
    return outputs;
  };
}

export const gatherRowsKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.gatherRows, GatherV2, createGatherRowsKernel);
export const splitRowsKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.splitRows, SplitV, createSplitRowsKernel);
