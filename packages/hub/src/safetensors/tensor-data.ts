import type { SafetensorsDtype, TensorDtype } from './safetensors-dtype';

/** Values of a tfjs dtype: float32 → Float32Array, int32 → Int32Array, bool → Uint8Array (0/1). */
export type TensorValues = Float32Array | Int32Array | Uint8Array;

/**
 * A tensor as plain data, without tfjs: what the raw loader returns, and what the writer accepts
 * beside `tf.Tensor`. `values.length` is the product of `shape`, in row-major order.
 */
export interface TensorData {
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly values: TensorValues;
}

/** A tensor read from a safetensors file, with the dtype the file stored it as. */
export interface LoadedTensorData extends TensorData {
  readonly sourceDtype: SafetensorsDtype;
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Swaps each `width`-byte group in place (only needed on big-endian hosts). */
export function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) {
    return;
  }
  for (let start = 0; start < bytes.length; start += width) {
    for (let low = start, high = start + width - 1; low < high; low++, high--) {
      const swap = bytes[low];
      bytes[low] = bytes[high];
      bytes[high] = swap;
    }
  }
}
