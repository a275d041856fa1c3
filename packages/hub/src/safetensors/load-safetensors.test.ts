import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSafetensorsBytes } from '../__fixtures__/safetensors-bytes';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { loadSafetensors, loadSafetensorsData, readSafetensorsHeader } from './load-safetensors';
import { openSafetensors } from './open-safetensors';
import { serializeSafetensors } from './save-safetensors';

let folder: string;
let tensorsBefore: number;
let sample: Uint8Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'peftjs-hub-load-'));
  sample = await serializeSafetensors(
    {
      weight: { dtype: 'float32', shape: [2, 3], values: new Float32Array([1, 2, 3, 4, 5, 6]) },
      bias: { dtype: 'float32', shape: [3], values: new Float32Array([0.5, -0.5, 0]) },
      ids: { dtype: 'int32', shape: [2], values: new Int32Array([-1, 99]) },
    },
    { metadata: { format: 'pt' }, dtypes: { ids: 'I64' } },
  );
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

/** A Blob that records which byte ranges were read from it. */
class RecordingBlob extends Blob {
  readonly reads: Array<[number, number]> = [];
  private readonly content: Uint8Array<ArrayBuffer>;
  constructor(content: Uint8Array) {
    super([content.slice()]);
    this.content = content.slice();
  }
  override slice(start = 0, end = this.content.byteLength): Blob {
    this.reads.push([start, end]);
    return new Blob([this.content.slice(start, end)]);
  }
}

describe('loading', () => {
  it('loads from a path, a Uint8Array, an ArrayBuffer and a Blob alike', async () => {
    const path = join(folder, 'sample.safetensors');
    await writeFile(path, sample);
    const arrayBuffer = sample.slice().buffer;
    for (const source of [path, sample, arrayBuffer, new Blob([sample.slice()])]) {
      const tensors = await loadSafetensors(source);
      try {
        expect(Object.keys(tensors).sort()).toEqual(['bias', 'ids', 'weight']);
        expect(await tensors.weight.array()).toEqual([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        expect(await tensors.bias.array()).toEqual([0.5, -0.5, 0]);
        expect(tensors.ids.dtype).toBe('int32');
        expect(await tensors.ids.array()).toEqual([-1, 99]);
      } finally {
        tf.dispose(Object.values(tensors));
      }
    }
  });

  it('reads the header and metadata without reading tensor data', async () => {
    const blob = new RecordingBlob(sample);
    const header = await readSafetensorsHeader(blob);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.map((info) => [info.name, info.dtype, info.shape])).toEqual([
      ['ids', 'I64', [2]],
      ['bias', 'F32', [3]],
      ['weight', 'F32', [2, 3]],
    ]);
    expect(header.fileSize).toBe(sample.byteLength);
    expect(Math.max(...blob.reads.map(([, end]) => end))).toBe(header.dataOffset);
  });

  it('reads only the tensors asked for, by offset', async () => {
    const blob = new RecordingBlob(sample);
    const tensors = await loadSafetensors(blob, { names: ['bias'] });
    try {
      expect(Object.keys(tensors)).toEqual(['bias']);
      const header = await readSafetensorsHeader(sample);
      const bias = header.tensors.find((info) => info.name === 'bias')!;
      expect(blob.reads.at(-1)).toEqual([bias.fileOffset, bias.fileOffset + bias.byteLength]);
      const dataReads = blob.reads.filter(([start]) => start >= header.dataOffset);
      expect(dataReads).toHaveLength(1);
    } finally {
      tf.dispose(Object.values(tensors));
    }
    const filtered = await loadSafetensorsData(sample, { names: (name) => name.startsWith('w') });
    expect(Object.keys(filtered)).toEqual(['weight']);
  });

  it('names a missing tensor and the ones present', async () => {
    await expect(loadSafetensors(sample, { names: ['bias', 'nope'] })).rejects.toSatisfy(
      (error) =>
        SafetensorsFormatError.isInstance(error) && error.problem === 'tensor-not-found' && error.tensorName === 'nope' && error.message.includes('"ids", "bias", "weight"'),
    );
  });

  it('returns plain data that does not alias the caller’s buffer', async () => {
    const copy = sample.slice();
    const data = await loadSafetensorsData(copy);
    expect(data.weight).toMatchObject({ dtype: 'float32', sourceDtype: 'F32', shape: [2, 3] });
    expect(Array.from(data.ids.values)).toEqual([-1, 99]);
    copy.fill(0, (await readSafetensorsHeader(copy)).dataOffset);
    expect(Array.from(data.weight.values)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads unaligned in-memory data', async () => {
    const shifted = new Uint8Array(sample.byteLength + 1);
    shifted.set(sample, 1);
    const data = await loadSafetensorsData(shifted.subarray(1));
    expect(Array.from(data.weight.values)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('converts F64, F16, BF16, I16, I8, U8, U16, U32, U64 and BOOL written by hand', async () => {
    const data = new Uint8Array(64);
    const view = new DataView(data.buffer);
    view.setFloat64(0, 0.1, true); // F64 [0, 8)
    view.setUint16(8, 0x3c00, true); // F16 1.0 [8, 10)
    view.setUint16(10, 0xbf80, true); // BF16 -1.0 [10, 12)
    view.setInt16(12, -300, true); // I16 [12, 14)
    view.setInt8(14, -5); // I8 [14, 15)
    view.setUint8(15, 250); // U8 [15, 16)
    view.setUint16(16, 65535, true); // U16 [16, 18)
    view.setUint8(18, 2); // BOOL (non-zero → true) [18, 19)
    view.setUint8(19, 0); // BOOL [19, 20)
    view.setUint32(20, 2147483647, true); // U32 [20, 24)
    view.setBigUint64(24, 5n, true); // U64 [24, 32)
    view.setBigInt64(32, -7n, true); // I64 [32, 40)
    const bytes = buildSafetensorsBytes(
      {
        f64: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
        f16: { dtype: 'F16', shape: [1], data_offsets: [8, 10] },
        bf16: { dtype: 'BF16', shape: [1], data_offsets: [10, 12] },
        i16: { dtype: 'I16', shape: [1], data_offsets: [12, 14] },
        i8: { dtype: 'I8', shape: [1], data_offsets: [14, 15] },
        u8: { dtype: 'U8', shape: [1], data_offsets: [15, 16] },
        u16: { dtype: 'U16', shape: [1], data_offsets: [16, 18] },
        bool: { dtype: 'BOOL', shape: [2], data_offsets: [18, 20] },
        u32: { dtype: 'U32', shape: [1], data_offsets: [20, 24] },
        u64: { dtype: 'U64', shape: [1], data_offsets: [24, 32] },
        i64: { dtype: 'I64', shape: [1], data_offsets: [32, 40] },
        f8: { dtype: 'F8_E4M3', shape: [24], data_offsets: [40, 64] },
      },
      data,
    );
    const loaded = await loadSafetensorsData(bytes, { names: (name) => name !== 'f8' });
    const values = Object.fromEntries(Object.entries(loaded).map(([name, tensor]) => [name, [tensor.dtype, Array.from(tensor.values)]]));
    expect(values).toEqual({
      f64: ['float32', [Math.fround(0.1)]],
      f16: ['float32', [1]],
      bf16: ['float32', [-1]],
      i16: ['int32', [-300]],
      i8: ['int32', [-5]],
      u8: ['int32', [250]],
      u16: ['int32', [65535]],
      bool: ['bool', [1, 0]],
      u32: ['int32', [2147483647]],
      u64: ['int32', [5]],
      i64: ['int32', [-7]],
    });
    await expect(loadSafetensors(bytes, { names: ['f8'] })).rejects.toSatisfy(
      (error) => SafetensorsFormatError.isInstance(error) && error.problem === 'unsupported-dtype' && error.tensorName === 'f8',
    );
  });

  it('refuses int64 values outside the int32 range, naming tensor, value and index, and disposes partial results', async () => {
    const data = new Uint8Array(24);
    new DataView(data.buffer).setBigInt64(16, 2n ** 40n, true);
    const bytes = buildSafetensorsBytes(
      {
        a_small: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
        b_big: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      },
      data,
    );
    await expect(loadSafetensors(bytes)).rejects.toSatisfy(
      (error) =>
        SafetensorsFormatError.isInstance(error) &&
        error.problem === 'value-out-of-range' &&
        error.tensorName === 'b_big' &&
        error.message.includes('1099511627776 at flat index 0'),
    );
    const negative = buildSafetensorsBytes({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8).fill(0xff).fill(0x7f, 7));
    await expect(loadSafetensorsData(negative)).rejects.toThrow(/9223372036854775807/);
    const u32 = buildSafetensorsBytes({ x: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array([0, 0, 0, 0x80]));
    await expect(loadSafetensorsData(u32)).rejects.toThrow(/2147483648/);
  });

  it('keeps a tensor named __proto__ as an ordinary key', async () => {
    // Header text written by hand: an object literal's __proto__ would not survive JSON.stringify.
    const text = buildSafetensorsBytes('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array([3]));
    const loaded = await loadSafetensorsData(text);
    expect(Object.keys(loaded)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
    expect(Array.from(Object.getOwnPropertyDescriptor(loaded, '__proto__')!.value.values)).toEqual([3]);
  });

  it('exposes an open reader for streaming large files tensor by tensor', async () => {
    const path = join(folder, 'stream.safetensors');
    await writeFile(path, sample);
    const reader = await openSafetensors(path);
    try {
      expect(reader.names).toEqual(['ids', 'bias', 'weight']);
      expect(reader.has('weight')).toBe(true);
      const weight = await reader.readTensor('weight');
      expect(weight.shape).toEqual([2, 3]);
      weight.dispose();
    } finally {
      await reader.close();
    }
  });
});
