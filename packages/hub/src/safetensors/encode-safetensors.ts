import type { Tensor } from '@tensorflow/tfjs-core';
import { SafetensorsWriteError } from '../errors/safetensors-write-error';
import { encodeBfloat16, encodeFloat16 } from './half-precision';
import { SAFETENSORS_DTYPE_BYTES, WRITABLE_DTYPES, isSafetensorsDtype, safetensorsDtypeRank, type SafetensorsDtype, type TensorDtype } from './safetensors-dtype';
import { LITTLE_ENDIAN_HOST, swapBytes, type TensorData, type TensorValues } from './tensor-data';

/** What the writer accepts for each tensor: a `tf.Tensor` (read with `await data()`) or plain data. */
export type WritableTensor = Tensor | TensorData;

export interface SaveSafetensorsOptions {
  /** Written as `__metadata__`. PEFT writes `{ format: 'pt' }`. Values must be strings. */
  metadata?: Readonly<Record<string, string>>;
  /** The dtype float32 tensors are written as: F32 (default), F16, BF16 or F64. */
  floatDtype?: 'F32' | 'F16' | 'BF16' | 'F64';
  /**
   * Per-tensor dtype, overriding the default (float32 → `floatDtype`, int32 → I32, bool → BOOL).
   * int32 tensors may be written as I64, I16, I8 or U8 (values are range-checked), bool as U8.
   */
  dtypes?: Readonly<Record<string, SafetensorsDtype>>;
}

/** One tensor in file order, with its place in the data section. */
export interface PlannedTensor {
  readonly name: string;
  readonly tensor: WritableTensor;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsPlan {
  /** The 8-byte length prefix followed by the space-padded JSON header. */
  readonly prefix: Uint8Array;
  readonly tensors: readonly PlannedTensor[];
  /** Size of the whole file in bytes. */
  readonly byteLength: number;
}

const encoder = new TextEncoder();

/**
 * Lays out a file the way the Rust/Python `safetensors` library does, so that for the same
 * tensors, dtypes and (single-key) metadata the bytes are identical: tensors sorted by dtype
 * alignment, descending, then by name (byte order); compact JSON with `__metadata__` first and
 * each entry as `{"dtype","shape","data_offsets"}`; the header padded with spaces to a multiple of
 * 8 bytes. (With several metadata keys, Rust writes them in hash-map order, which is not
 * reproducible; here they keep insertion order.)
 */
export function planSafetensors(tensors: Readonly<Record<string, WritableTensor>> | ReadonlyMap<string, WritableTensor>, options: SaveSafetensorsOptions = {}): SafetensorsPlan {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const described = entries.map(([name, tensor]) => describeTensor(name, tensor, options));
  const nameBytes = new Map(described.map((entry) => [entry.name, encoder.encode(entry.name)]));
  described.sort((left, right) => safetensorsDtypeRank(right.dtype) - safetensorsDtypeRank(left.dtype) || compareBytes(nameBytes.get(left.name)!, nameBytes.get(right.name)!));

  const parts: string[] = [];
  if (options.metadata !== undefined) {
    const metadataParts: string[] = [];
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== 'string') {
        throw new SafetensorsWriteError({ message: `metadata value for "${key}" must be a string, got ${typeof value}` });
      }
      metadataParts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
    parts.push(`"__metadata__":{${metadataParts.join(',')}}`);
  }
  let offset = 0;
  const planned: PlannedTensor[] = [];
  for (const entry of described) {
    const elements = entry.shape.reduce((product, dimension) => product * dimension, 1);
    const begin = offset;
    offset += elements * SAFETENSORS_DTYPE_BYTES[entry.dtype];
    planned.push({ ...entry, begin, end: offset });
    parts.push(`${JSON.stringify(entry.name)}:{"dtype":${JSON.stringify(entry.dtype)},"shape":[${entry.shape.join(',')}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = encoder.encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const prefix = new Uint8Array(8 + padded);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  prefix.fill(0x20, 8 + json.byteLength);
  return { prefix, tensors: planned, byteLength: prefix.byteLength + offset };
}

/** Reads a planned tensor's values (asynchronously) and encodes them as little-endian bytes. */
export async function encodePlannedTensor(planned: PlannedTensor): Promise<Uint8Array> {
  const { tensor, name, dtype } = planned;
  const values = isTensorData(tensor) ? tensor.values : ((await tensor.data()) as TensorValues);
  let typed: Float32Array | Float64Array | Uint16Array | Int32Array | Int16Array | Int8Array | Uint8Array;
  switch (dtype) {
    case 'F32':
      typed = values instanceof Float32Array ? values : Float32Array.from(values);
      break;
    case 'F64':
      typed = Float64Array.from(values);
      break;
    case 'F16':
      typed = encodeFloat16(values instanceof Float32Array ? values : Float32Array.from(values));
      break;
    case 'BF16':
      typed = encodeBfloat16(values instanceof Float32Array ? values : Float32Array.from(values));
      break;
    case 'I32':
      typed = values instanceof Int32Array ? values : Int32Array.from(values);
      break;
    case 'I64': {
      const words = new Int32Array(values.length * 2);
      const lowWord = LITTLE_ENDIAN_HOST ? 0 : 1;
      for (let index = 0; index < values.length; index++) {
        words[2 * index + lowWord] = values[index];
        words[2 * index + 1 - lowWord] = values[index] < 0 ? -1 : 0;
      }
      typed = words;
      break;
    }
    case 'I16':
      checkRange(name, dtype, values, -32768, 32767);
      typed = Int16Array.from(values);
      break;
    case 'I8':
      checkRange(name, dtype, values, -128, 127);
      typed = Int8Array.from(values);
      break;
    case 'U8':
      checkRange(name, dtype, values, 0, 255);
      typed = Uint8Array.from(values);
      break;
    case 'BOOL':
      typed = Uint8Array.from(values, (value) => (value === 0 ? 0 : 1));
      break;
    default:
      throw new SafetensorsWriteError({ message: `tensor "${name}": writing ${dtype} is not supported`, tensorName: name });
  }
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (!LITTLE_ENDIAN_HOST) {
    const copy = bytes.slice();
    swapBytes(copy, SAFETENSORS_DTYPE_BYTES[dtype]);
    return copy;
  }
  return bytes;
}

function describeTensor(
  name: string,
  tensor: WritableTensor,
  options: SaveSafetensorsOptions,
): { name: string; tensor: WritableTensor; dtype: SafetensorsDtype; shape: readonly number[] } {
  if (name === '__metadata__') {
    throw new SafetensorsWriteError({ message: 'a tensor cannot be named "__metadata__" (reserved for metadata)', tensorName: name });
  }
  const sourceDtype = tensor.dtype as string;
  if (sourceDtype !== 'float32' && sourceDtype !== 'int32' && sourceDtype !== 'bool') {
    throw new SafetensorsWriteError({
      message: `tensor "${name}" has dtype ${sourceDtype}; only float32, int32 and bool tensors can be written`,
      tensorName: name,
    });
  }
  const tensorDtype = sourceDtype as TensorDtype;
  const shape = [...tensor.shape];
  for (const dimension of shape) {
    if (!Number.isSafeInteger(dimension) || dimension < 0) {
      throw new SafetensorsWriteError({ message: `tensor "${name}" has an invalid shape [${shape.join(', ')}]`, tensorName: name });
    }
  }
  if (isTensorData(tensor)) {
    const elements = shape.reduce((product, dimension) => product * dimension, 1);
    if (tensor.values.length !== elements) {
      throw new SafetensorsWriteError({
        message: `tensor "${name}" has ${tensor.values.length} values but shape [${shape.join(', ')}] needs ${elements}`,
        tensorName: name,
      });
    }
  }
  const requested = options.dtypes?.[name];
  const dtype: SafetensorsDtype = requested ?? (tensorDtype === 'float32' ? (options.floatDtype ?? 'F32') : tensorDtype === 'int32' ? 'I32' : 'BOOL');
  if (!isSafetensorsDtype(dtype) || !WRITABLE_DTYPES[tensorDtype].includes(dtype)) {
    throw new SafetensorsWriteError({
      message: `tensor "${name}" (${tensorDtype}) cannot be written as ${String(dtype)}; choose one of ${WRITABLE_DTYPES[tensorDtype].join(', ')}`,
      tensorName: name,
    });
  }
  return { name, tensor, dtype, shape };
}

function isTensorData(tensor: WritableTensor): tensor is TensorData {
  return 'values' in tensor && !('dataId' in tensor);
}

function checkRange(name: string, dtype: SafetensorsDtype, values: TensorValues, minimum: number, maximum: number): void {
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value < minimum || value > maximum) {
      throw new SafetensorsWriteError({
        message: `tensor "${name}": value ${value} at flat index ${index} does not fit in ${dtype} (${minimum}..${maximum})`,
        tensorName: name,
      });
    }
  }
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    if (left[index] !== right[index]) {
      return left[index] - right[index];
    }
  }
  return left.length - right.length;
}
