import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { SafetensorsWriteError } from '../errors/safetensors-write-error';
import { loadSafetensors, loadSafetensorsData, readSafetensorsHeader } from './load-safetensors';
import { saveSafetensors, serializeSafetensors } from './save-safetensors';

let folder: string;
let tensorsBefore: number;

beforeAll(async () => {
  await tf.setBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'peftjs-hub-save-'));
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

describe('serializeSafetensors', () => {
  it('writes the layout of the Rust library: dtype-descending then name order, padded header', async () => {
    const bytes = await serializeSafetensors(
      {
        b: { dtype: 'float32', shape: [2], values: new Float32Array([1, 2]) },
        a: { dtype: 'float32', shape: [1], values: new Float32Array([3]) },
        ids: { dtype: 'int32', shape: [1], values: new Int32Array([7]) },
        mask: { dtype: 'bool', shape: [2], values: new Uint8Array([1, 0]) },
      },
      { metadata: { format: 'pt' }, dtypes: { ids: 'I64' } },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(header).toBe(
      (
        '{"__metadata__":{"format":"pt"},' +
        '"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
        '"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},' +
        '"mask":{"dtype":"BOOL","shape":[2],"data_offsets":[20,22]}}'
      ).padEnd(headerLength, ' '),
    );
    expect(bytes.byteLength).toBe(8 + headerLength + 22);
  });

  it('matches the Rust library test vector byte for byte', async () => {
    // From safetensors/src/tensor.rs `test_serialization`.
    const bytes = await serializeSafetensors({
      'attn.0': { dtype: 'float32', shape: [1, 2, 3], values: new Float32Array([0, 1, 2, 3, 4, 5]) },
    });
    expect(Array.from(bytes)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91,
      49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0,
      0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    // `test_empty` with metadata {"framework": "pt"}.
    const empty = await serializeSafetensors({}, { metadata: { framework: 'pt' } });
    expect(Array.from(empty)).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34,
      125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it('sorts names by UTF-8 bytes, keeps integer-like names in order, and escapes JSON', async () => {
    const value = { dtype: 'float32' as const, shape: [] as number[], values: new Float32Array([1]) };
    const bytes = await serializeSafetensors({ b: value, '10': value, '9': value, '\uffff': value, '\u{1f600}': value, 'q"\n': value });
    const header = await readSafetensorsHeader(bytes);
    expect(header.tensors.map((info) => info.name)).toEqual(['10', '9', 'b', 'q"\n', '\uffff', '\u{1f600}']);
  });

  it('round-trips every writable dtype through tf tensors', async () => {
    const floats = tf.tensor2d([
      [1.5, -2.25, 3e-5],
      [65504, -0, 1e30],
    ]);
    const ints = tf.tensor1d([-2147483648, 0, 2147483647], 'int32');
    const smallInts = tf.tensor1d([-128, 0, 127], 'int32');
    const bytesInts = tf.tensor1d([0, 7, 255], 'int32');
    const bools = tf.tensor1d([true, false, true], 'bool');
    const scalar = tf.scalar(42);
    const empty = tf.zeros([0, 3]);
    const file = join(folder, 'dtypes.safetensors');
    await saveSafetensors(
      file,
      {
        f32: floats,
        f16: floats,
        bf16: floats,
        f64: floats,
        i32: ints,
        i64: ints,
        i16: smallInts,
        i8: smallInts,
        u8: bytesInts,
        bool: bools,
        boolAsU8: bools,
        scalar,
        empty,
      },
      { metadata: { format: 'pt' }, dtypes: { f16: 'F16', bf16: 'BF16', f64: 'F64', i64: 'I64', i16: 'I16', i8: 'I8', u8: 'U8', boolAsU8: 'U8' } },
    );
    const header = await readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(Object.fromEntries(header.tensors.map((info) => [info.name, info.dtype]))).toEqual({
      f32: 'F32',
      f16: 'F16',
      bf16: 'BF16',
      f64: 'F64',
      i32: 'I32',
      i64: 'I64',
      i16: 'I16',
      i8: 'I8',
      u8: 'U8',
      bool: 'BOOL',
      boolAsU8: 'U8',
      scalar: 'F32',
      empty: 'F32',
    });
    const loaded = await loadSafetensors(file);
    try {
      expect(await loaded.f32.array()).toEqual(await floats.array());
      expect(await loaded.f64.array()).toEqual(await floats.array());
      expect(Array.from(await loaded.f16.data())).toEqual([1.5, -2.25, expect.closeTo(3e-5, 7), 65504, -0, Infinity]);
      const bf16 = await loaded.bf16.data();
      expect(bf16[0]).toBe(1.5);
      expect(bf16[5] / 1e30).toBeCloseTo(1, 2);
      expect(loaded.i32.dtype).toBe('int32');
      expect(Array.from(await loaded.i32.data())).toEqual([-2147483648, 0, 2147483647]);
      expect(Array.from(await loaded.i64.data())).toEqual([-2147483648, 0, 2147483647]);
      expect(Array.from(await loaded.i16.data())).toEqual([-128, 0, 127]);
      expect(Array.from(await loaded.i8.data())).toEqual([-128, 0, 127]);
      expect(Array.from(await loaded.u8.data())).toEqual([0, 7, 255]);
      expect(loaded.bool.dtype).toBe('bool');
      expect(Array.from(await loaded.bool.data())).toEqual([1, 0, 1]);
      expect(Array.from(await loaded.boolAsU8.data())).toEqual([1, 0, 1]);
      expect(loaded.scalar.shape).toEqual([]);
      expect(await loaded.scalar.array()).toBe(42);
      expect(loaded.empty.shape).toEqual([0, 3]);
    } finally {
      tf.dispose([floats, ints, smallInts, bytesInts, bools, scalar, empty, ...Object.values(loaded)]);
    }
  });

  it('writes float tensors as F16 or BF16 with floatDtype', async () => {
    const weights = tf.tensor1d([0.1, 0.2]);
    try {
      for (const floatDtype of ['F16', 'BF16'] as const) {
        const header = await readSafetensorsHeader(await serializeSafetensors({ weights }, { floatDtype }));
        expect(header.tensors[0].dtype).toBe(floatDtype);
        expect(header.tensors[0].byteLength).toBe(4);
      }
    } finally {
      weights.dispose();
    }
  });

  it('refuses what it cannot write, with a typed error naming the tensor', async () => {
    const strings = tf.tensor1d(['a']);
    const floats = tf.tensor1d([1]);
    try {
      await expect(serializeSafetensors({ strings })).rejects.toSatisfy(
        (error) => SafetensorsWriteError.isInstance(error) && error.tensorName === 'strings' && /string/.test(error.message),
      );
      await expect(serializeSafetensors({ floats }, { dtypes: { floats: 'I32' } })).rejects.toThrow(/cannot be written as I32; choose one of F32, F16, BF16, F64/);
      await expect(serializeSafetensors({ __metadata__: floats })).rejects.toThrow(SafetensorsWriteError);
      await expect(serializeSafetensors({ big: { dtype: 'int32', shape: [1], values: new Int32Array([300]) } }, { dtypes: { big: 'U8' } })).rejects.toThrow(
        /value 300 at flat index 0 does not fit in U8/,
      );
      await expect(serializeSafetensors({ bad: { dtype: 'float32', shape: [3], values: new Float32Array(2) } })).rejects.toThrow(/has 2 values but shape \[3\] needs 3/);
      await expect(serializeSafetensors({ floats }, { metadata: { format: 1 as unknown as string } })).rejects.toThrow(SafetensorsWriteError);
    } finally {
      tf.dispose([strings, floats]);
    }
  });

  it('writes atomically: a failed save leaves the old file and no temporary file', async () => {
    const file = join(folder, 'atomic', 'weights.safetensors');
    const good = { dtype: 'float32' as const, shape: [1], values: new Float32Array([1]) };
    await saveSafetensors(file, { good });
    const before = await readFile(file);
    const failing = {
      dtype: 'float32',
      shape: [1],
      data: async () => {
        throw new Error('backend exploded');
      },
      dataId: {},
    } as unknown as tf.Tensor;
    await expect(saveSafetensors(file, { good, failing })).rejects.toThrow('backend exploded');
    expect(await readFile(file)).toEqual(before);
    expect(await readdir(join(folder, 'atomic'))).toEqual(['weights.safetensors']);
  });

  it('overwrites an existing file', async () => {
    const file = join(folder, 'overwrite.safetensors');
    await writeFile(file, 'old');
    await saveSafetensors(file, { x: { dtype: 'int32', shape: [1], values: new Int32Array([5]) } });
    const data = await loadSafetensorsData(file);
    expect(Array.from(data.x.values)).toEqual([5]);
  });
});
