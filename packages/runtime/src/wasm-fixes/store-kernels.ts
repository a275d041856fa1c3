import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';

import { nativeAddon } from '../native/native-kernels';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import { heapOffset, heapView } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix, type WasmFixName } from './wasm-fix-names';

/** The kernels @peftjs/models' frozen layers run (`STORE_MAT_MUL_KERNEL`, `STORE_GATHER_KERNEL` there). */
export const STORE_MAT_MUL = 'PeftjsStoreMatMul';
export const STORE_GATHER = 'PeftjsStoreGather';

/** The store functions of the addon (present in builds with the frozen-weight store). */
interface StoreAddon {
  storeMatMul(memory: Uint8Array, params: Float64Array): void;
  storeGather(memory: Uint8Array, params: Float64Array): void;
}

function storeAddon(): StoreAddon | undefined {
  const addon = nativeAddon() as unknown as Partial<StoreAddon> | undefined;
  return typeof addon?.storeMatMul === 'function' && typeof addon.storeGather === 'function' ? (addon as StoreAddon) : undefined;
}

interface StoreAttrs {
  entry: number;
  rows: number;
  cols: number;
  transposeWeight?: number;
}

const matMulParams = new Float64Array(6);
const gatherParams = new Float64Array(4);

/**
 * `PeftjsStoreMatMul`: x `[m, k]` (float32, on the heap) times a frozen-weight store entry W
 * `[rows, cols]`: x·Wᵀ (`transposeWeight` 1) or x·W, written straight into the output tensor;
 * the weight is read (and dequantised) in native memory, never copied into the heap.
 */
const storeMatMulKernel: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x } = inputs as { x: TensorInfo };
  const { entry, rows, cols, transposeWeight } = attrs as unknown as StoreAttrs;
  const transposed = transposeWeight !== 0;
  const k = transposed ? cols : rows;
  const n = transposed ? rows : cols;
  if (x.dtype !== 'float32' || x.shape.length !== 2 || x.shape[1] !== k) {
    throw new Error(`${STORE_MAT_MUL}: x must be float32 [m, ${k}], got ${x.dtype} [${x.shape.join(', ')}]`);
  }
  const addon = storeAddon();
  if (addon === undefined) throw new Error(`${STORE_MAT_MUL}: @peftjs/native with the frozen-weight store is not loaded`);
  const out = backend.makeOutput([x.shape[0]!, n], 'float32');
  if (x.shape[0] === 0) return out;
  matMulParams[0] = entry;
  matMulParams[1] = x.shape[0]!;
  matMulParams[2] = heapOffset(backend, x);
  matMulParams[3] = heapOffset(backend, out);
  matMulParams[4] = transposed ? 1 : 0;
  matMulParams[5] = -1;
  addon.storeMatMul(heapView(backend), matMulParams);
  return out;
};

/** `PeftjsStoreGather`: rows of a store entry by int32 index (an embedding lookup), into the heap. */
const storeGatherKernel: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { indices } = inputs as { indices: TensorInfo };
  const { entry, cols } = attrs as unknown as StoreAttrs;
  if (indices.dtype !== 'int32' || indices.shape.length !== 1) {
    throw new Error(`${STORE_GATHER}: indices must be int32 [n], got ${indices.dtype} [${indices.shape.join(', ')}]`);
  }
  const addon = storeAddon();
  if (addon === undefined) throw new Error(`${STORE_GATHER}: @peftjs/native with the frozen-weight store is not loaded`);
  const out = backend.makeOutput([indices.shape[0]!, cols], 'float32');
  if (indices.shape[0] === 0) return out;
  gatherParams[0] = entry;
  gatherParams[1] = indices.shape[0]!;
  gatherParams[2] = heapOffset(backend, indices);
  gatherParams[3] = heapOffset(backend, out);
  addon.storeGather(heapView(backend), gatherParams);
  return out;
};

/** Registers a store kernel on wasm when the addon with the store is loaded (else nothing). */
function storeKernelFix(name: WasmFixName, kernelName: string, kernelFunc: KernelFunc): WasmFixUnit {
  return {
    name,
    apply() {
      if (storeAddon() === undefined || getKernel(kernelName, 'wasm') != null) return null;
      registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
      return () => {
        if (getKernel(kernelName, 'wasm')?.kernelFunc === kernelFunc) unregisterKernel(kernelName, 'wasm');
      };
    },
    isActive: () => getKernel(kernelName, 'wasm')?.kernelFunc === kernelFunc,
  };
}

export const storeMatMulKernelFix = storeKernelFix(WasmFix.storeMatMul, STORE_MAT_MUL, storeMatMulKernel);
export const storeGatherKernelFix = storeKernelFix(WasmFix.storeGather, STORE_GATHER, storeGatherKernel);
