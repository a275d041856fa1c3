import type { DataId, DataType, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel } from '@tensorflow/tfjs-core';

/**
 * The parts of `BackendWasm` (from `@tensorflow/tfjs-backend-wasm`, an optional peer that is never
 * imported statically here) that the fixes use. Every tensor lives on the wasm heap at
 * `memoryOffset`; `makeOutput` allocates one.
 */
export interface WasmBackend {
  readonly dataIdMap: { get(dataId: DataId): { id: number; memoryOffset: number } };
  /**
   * The Emscripten module: `HEAPU8` views the whole heap and is replaced when the heap grows. The
   * threaded build (shared memory) refreshes it lazily; its `wasmMemory` is always current.
   */
  readonly wasm: { readonly HEAPU8: Uint8Array; readonly wasmMemory?: WebAssembly.Memory };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** A view of the tensor's heap memory. Views go stale when the heap grows: take them after allocating. */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
}

/** Arguments every kernel function receives. */
export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** The registered wasm kernel function for `kernelName`; throws when it is not registered. */
export function wasmKernel(kernelName: string): KernelFunc {
  const config = getKernel(kernelName, 'wasm');
  if (config == null) {
    throw new Error(`the wasm kernel ${kernelName} is not registered`);
  }
  return config.kernelFunc;
}

/** Runs a registered wasm kernel that returns one tensor. */
export function runWasmKernel(kernelName: string, backend: WasmBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  return wasmKernel(kernelName)({ inputs, backend: backend as never, attrs }) as TensorInfo;
}

/** The byte offset of a tensor's data on the wasm heap. */
export function heapOffset(backend: WasmBackend, tensor: TensorInfo): number {
  return backend.dataIdMap.get(tensor.dataId).memoryOffset;
}

let sharedView: Uint8Array | undefined;

/** A byte view of the whole wasm heap as it is now (also after the threaded build's shared memory grew). */
export function heapView(backend: WasmBackend): Uint8Array {
  const view = backend.wasm.HEAPU8;
  const memory = backend.wasm.wasmMemory;
  if (memory === undefined || view.buffer === memory.buffer) {
    return view;
  }
  if (sharedView?.buffer !== memory.buffer) {
    sharedView = new Uint8Array(memory.buffer);
  }
  return sharedView;
}
