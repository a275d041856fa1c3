import * as tf from '@tensorflow/tfjs-core';
import { STORAGE_CODES, type FrozenStorage, type StorageName, storageName } from './frozen-storage';
import type { NativeStoreAddon } from './native-store';
import { dequantizeRows, quantizedBytes, quantizeMatrix, type QuantizedMatrix } from './quantize';

/**
 * One frozen base weight, a `[rows, cols]` matrix laid out as torch's Linear keeps it (`[out, in]`;
 * an embedding's `[vocab, hidden]`), held outside tfjs: in the native store (`entry` set; native
 * kernels read it in place) or in JS arrays (dequantised per use).
 */
export interface FrozenWeight {
  readonly rows: number;
  readonly cols: number;
  readonly storage: StorageName;
  /** The native store entry, when the weight lives there. */
  readonly entry: number | undefined;
  /** Memory held outside the wasm heap (0 for values mapped from a file). */
  readonly bytes: number;
  /** Whether the values are read in place from a mapped file. */
  readonly mapped: boolean;
  /** All values as float32 (dequantised), row-major `[rows, cols]`. */
  read(): Float32Array;
  /** Rows `[row0, row0 + count)` as float32. */
  readRows(row0: number, count: number): Float32Array;
  /** New values (`[rows, cols]`, float32), stored in this weight's own format (requantised). */
  write(values: Float32Array): void;
  dispose(): void;
  readonly disposed: boolean;
}

/** A weight in the native store. */
export class NativeFrozenWeight implements FrozenWeight {
  readonly rows: number;
  readonly cols: number;
  readonly storage: StorageName;
  private id: number | undefined;
  private readonly addon: NativeStoreAddon;

  constructor(addon: NativeStoreAddon, entry: number) {
    this.addon = addon;
    this.id = entry;
    const info = addon.storeInfo(entry);
    this.rows = info.rows;
    this.cols = info.cols;
    this.storage = (Object.keys(STORAGE_CODES) as StorageName[])[info.storage]!;
  }

  get entry(): number | undefined {
    return this.id;
  }

  private live(): number {
    if (this.id === undefined) throw new Error('this frozen weight was disposed');
    return this.id;
  }

  get bytes(): number {
    return this.id === undefined ? 0 : this.addon.storeInfo(this.id).bytes;
  }

  get mapped(): boolean {
    return this.id !== undefined && this.addon.storeInfo(this.id).mapped;
  }

  read(): Float32Array {
    return this.readRows(0, this.rows);
  }

  readRows(row0: number, count: number): Float32Array {
    const out = new Float32Array(count * this.cols);
    this.addon.storeRead(this.live(), out, row0, count);
    return out;
  }

  write(values: Float32Array): void {
    this.addon.storeWrite(this.live(), values);
  }

  get disposed(): boolean {
    return this.id === undefined;
  }

  dispose(): void {
    if (this.id === undefined) return;
    this.addon.storeFree(this.id);
    this.id = undefined;
  }
}

/** A weight in JS arrays (outside the wasm heap, in the JS heap): the store without the addon. */
export class ArrayFrozenWeight implements FrozenWeight {
  readonly entry = undefined;
  readonly mapped = false;
  private matrix: QuantizedMatrix | undefined;
  private readonly doubleQuant: boolean;

  constructor(values: Float32Array, rows: number, cols: number, storage: FrozenStorage) {
    this.doubleQuant = storage.doubleQuant;
    this.matrix = quantizeMatrix(values, rows, cols, storageName(storage), storage.doubleQuant);
  }

  private live(): QuantizedMatrix {
    if (!this.matrix) throw new Error('this frozen weight was disposed');
    return this.matrix;
  }

  get rows(): number {
    return this.live().rows;
  }

  get cols(): number {
    return this.live().cols;
  }

  get storage(): StorageName {
    return this.live().storage;
  }

  get bytes(): number {
    return this.matrix ? quantizedBytes(this.matrix) : 0;
  }

  read(): Float32Array {
    return dequantizeRows(this.live());
  }

  readRows(row0: number, count: number): Float32Array {
    return dequantizeRows(this.live(), row0, count);
  }

  write(values: Float32Array): void {
    const { rows, cols, storage } = this.live();
    this.matrix = quantizeMatrix(values, rows, cols, storage, this.doubleQuant);
  }

  get disposed(): boolean {
    return this.matrix === undefined;
  }

  dispose(): void {
    this.matrix = undefined;
  }
}

/** The weight as a `[rows, cols]` float32 tensor (a new tensor; the caller disposes it). */
export function frozenWeightTensor(weight: FrozenWeight): tf.Tensor2D {
  return tf.tensor2d(weight.read(), [weight.rows, weight.cols], 'float32');
}
