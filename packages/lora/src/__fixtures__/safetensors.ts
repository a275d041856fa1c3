import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

/** Test helper: reads an F32 / I64 safetensors file into tfjs tensors (I64 → int32). The caller disposes them. */
export function readSafetensors(path: string): Record<string, tf.Tensor> {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLength;
  const result: Record<string, tf.Tensor> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = entry.data_offsets;
    const slice = bytes.buffer.slice(bytes.byteOffset + base + start, bytes.byteOffset + base + end);
    if (entry.dtype === 'F32') result[name] = tf.tensor(new Float32Array(slice), entry.shape, 'float32');
    else if (entry.dtype === 'I64') result[name] = tf.tensor(Int32Array.from(new BigInt64Array(slice), (value) => Number(value)), entry.shape, 'int32');
    else throw new Error(`readSafetensors: dtype ${entry.dtype} of "${name}" is not supported by this test helper`);
  }
  return result;
}
