import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { BatchMatMul, broadcast_util, util } from '@tensorflow/tfjs-core';

import { kernelOverrideFix } from './kernel-override';
import { disposeAll, materialiseTransposes } from './materialise-transposes';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * A batched product runs one matrix at a time on XNNPACK only when each matrix has at least this
 * many rows and this many multiply-adds. Below that the stock kernel's loop is faster: each
 * XNNPACK call packs its right-hand matrix (~20 ns per element) and costs ~15 µs on top
 * (measured in Node 20: 64 × [1,64]·[64,128] is 10x slower per matrix than the loop, 64 ×
 * [32,32]·[32,32] is 1.6x faster, 64 × [64,64]·[64,64] 5x faster).
 */
export const PER_BATCH_MIN_ROWS = 24;
export const PER_BATCH_MIN_WORK = 32 * 32 * 32;

/**
 * wasm `BatchMatMul` that keeps every product on XNNPACK's fast path.
 *
 * The stock kernel uses XNNPACK only for an unflagged product of single matrices; a transpose flag
 * or a batch of more than one matrix falls back to a naive loop (10-40x slower). This kernel
 * 1. materialises flagged operands with the wasm `Transpose` kernel,
 * 2. runs `[B,M,K] x [K,N]` (b not batched) as one `[B·M,K] x [K,N]` product, and
 * 3. runs a batched `b` one matrix at a time through the stock kernel, copying slices in and out.
 * Batch broadcasting follows the stock kernel (batch index `i % batchA`, `i % batchB`).
 */
export function createBatchMatMulKernel(stock: KernelConfig): KernelFunc {
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const backend = args.backend as WasmBackend;
    const { a: a0, b: b0 } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a0.dtype !== 'float32' || b0.dtype !== 'float32' || a0.shape.length < 2 || b0.shape.length < 2) {
      return stock.kernelFunc(args); // the stock kernel reports what it does not support
    }
    const { a, b, temporaries } = materialiseTransposes(backend, a0, b0, transposeA, transposeB);
    try {
      const product = (x: TensorInfo, y: TensorInfo): TensorInfo =>
        stock.kernelFunc({
          inputs: { a: x, b: y },
          backend: backend as never,
          attrs: { transposeA: false, transposeB: false },
        }) as TensorInfo;
      return batchedProduct(backend, a, b, product);
    } finally {
      disposeAll(backend, temporaries);
    }
  };
}

function batchedProduct(backend: WasmBackend, a: TensorInfo, b: TensorInfo, product: (x: TensorInfo, y: TensorInfo) => TensorInfo): TensorInfo {
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(batchShapeA);
  const batchB = util.sizeFromShape(batchShapeB);
  if ((batchA <= 1 && batchB <= 1) || k !== k2) {
    return product(a, b); // single matrices: already the fast path (or a shape error the stock kernel reports)
  }
  const outShape = [...broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB), m, n];
  const batch = Math.max(batchA, batchB);
  if (batchB === 1) {
    // b is one matrix shared by every batch entry: one [batchA·M, K] x [K, N] product.
    const flat = product({ ...a, shape: [batchA * m, k] }, { ...b, shape: [k, n] });
    return { ...flat, shape: outShape };
  }
  if (m < PER_BATCH_MIN_ROWS || m * k * n < PER_BATCH_MIN_WORK) {
    return product(a, b);
  }
  const out = backend.makeOutput(outShape, 'float32');
  const outSize = m * n;
  for (let index = 0; index < batch; index++) {
    const temporaries: TensorInfo[] = [];
    const aSlice = batchA === 1 ? { ...a, shape: [m, k] } : copyMatrix(backend, a, index % batchA, [m, k], temporaries);
    const bSlice = copyMatrix(backend, b, index % batchB, [k, n], temporaries);
    const slice = product(aSlice, bSlice);
    temporaries.push(slice);
    // Heap views are taken after every allocation: growing the heap detaches older views.
    (backend.typedArrayFromHeap(out) as Float32Array).set(backend.typedArrayFromHeap(slice) as Float32Array, index * outSize);
    disposeAll(backend, temporaries);
  }
  return out;
}

function copyMatrix(backend: WasmBackend, source: TensorInfo, index: number, shape: [number, number], temporaries: TensorInfo[]): TensorInfo {
  const size = shape[0] * shape[1];
  const copy = backend.makeOutput(shape, 'float32');
  temporaries.push(copy);
  const from = backend.typedArrayFromHeap(source) as Float32Array;
  (backend.typedArrayFromHeap(copy) as Float32Array).set(from.subarray(index * size, (index + 1) * size));
  return copy;
}

export const batchMatMulKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.batchMatMulKernel, BatchMatMul, createBatchMatMulKernel);
