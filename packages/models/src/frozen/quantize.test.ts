import { describe, expect, it } from 'vitest';
import { loadNativeStore } from './native-store';
import { dequantizeRows, dynamicMap, FP4_CODE, NF4_CODE, quantizeMatrix } from './quantize';
import type { StorageName } from './frozen-storage';

const f = Math.fround;

function seeded(size: number, seed: number, scale = 1): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = f(((state / 2 ** 32) * 2 - 1) * scale);
  }
  return values;
}

describe('bitsandbytes formats in TypeScript (the array store and the reference for the native one)', () => {
  it('NF4: a block of code values times its absmax comes back exactly; codes pack high nibble first', () => {
    const values = Float32Array.from({ length: 64 }, (_, index) => f(NF4_CODE[index % 16]! * 3));
    const matrix = quantizeMatrix(values, 1, 64, 'nf4');
    expect(matrix.scales![0]).toBe(3);
    // value 0 is −1·3 → code 0; value 1 is −0.696·3 → code 1: byte 0x01; values 14, 15 → 0xEF
    expect((matrix.data as Uint8Array)[0]).toBe(0x01);
    expect((matrix.data as Uint8Array)[7]).toBe(0xef);
    expect([...dequantizeRows(matrix)]).toEqual([...values]);
  });

  it('FP4: the code book is bitsandbytes’ 0, 0.0052, 2/3, 1, 1/3, 1/2, 1/6, 1/4 (sign in the top bit)', () => {
    const matrix = quantizeMatrix(Float32Array.from([12, 4, -2, 3, 0.06, -8]), 1, 6, 'fp4');
    // normalised by 12: 1 (3), 1/3 (4), −1/6 (14), 1/4 (7), 0.005 (1), −2/3 (10)
    expect([...(matrix.data as Uint8Array)]).toEqual([0x34, 0xe7, 0x1a]);
    expect([...dequantizeRows(matrix)]).toEqual([12, f(FP4_CODE[4]! * 12), f(FP4_CODE[14]! * 12), 3, f(FP4_CODE[1]! * 12), f(FP4_CODE[10]! * 12)]);
  });

  it('the dynamic map has 256 sorted values from −0.993 to 1, with 0 and 1 in it', () => {
    const map = dynamicMap();
    expect(map.length).toBe(256);
    expect([...map].every((value, index) => index === 0 || value >= map[index - 1]!)).toBe(true);
    expect(map[255]).toBe(1);
    expect(map.includes(0)).toBe(true);
    expect(map[0]).toBeCloseTo(-0.99297, 4);
  });

  it('double quantisation: absmax offset by its mean, coded per 256 blocks; dequantised ≈ absmax', () => {
    const values = seeded(64 * 600, 3, 2);
    const plain = quantizeMatrix(values, 600, 64, 'nf4');
    const nested = quantizeMatrix(values, 600, 64, 'nf4', true);
    expect(nested.scales).toBeUndefined();
    expect(nested.nested!.absmax.length).toBe(Math.ceil(600 / 256));
    const a = dequantizeRows(plain);
    const b = dequantizeRows(nested);
    let worst = 0;
    for (let index = 0; index < a.length; index++) worst = Math.max(worst, Math.abs(a[index]! - b[index]!));
    expect(worst).toBeLessThan(0.02);
    expect(worst).toBeGreaterThan(0);
  });

  it('agrees bit for bit with the native store, every storage', async () => {
    const addon = await loadNativeStore();
    if (!addon) return;
    const storages: Array<[StorageName, boolean]> = [
      ['float32', false],
      ['bfloat16', false],
      ['float16', false],
      ['int8', false],
      ['nf4', false],
      ['fp4', false],
      ['nf4', true],
      ['fp4', true],
    ];
    const rows = 37;
    const cols = 1000; // blocks span rows; 578 blocks → 3 nested groups
    const values = seeded(rows * cols, 17, 3);
    values[5] = 0;
    values[6] = -0;
    for (const [storage, doubleQuant] of storages) {
      const params = Float64Array.from([0, 0, 0, 0, rows, cols, 0, ['float32', 'bfloat16', 'float16', 'int8', 'nf4', 'fp4'].indexOf(storage), doubleQuant ? 1 : 0]);
      const id = addon.storeCreate(params, new Uint8Array(values.buffer));
      const native = new Float32Array(rows * cols);
      addon.storeRead(id, native, 0, rows);
      addon.storeFree(id);
      const reference = dequantizeRows(quantizeMatrix(values, rows, cols, storage, doubleQuant));
      let mismatches = 0;
      for (let index = 0; index < native.length; index++) if (!Object.is(native[index], reference[index]) && native[index] !== reference[index]) mismatches++;
      expect(mismatches, `${storage}${doubleQuant ? ' (double quant)' : ''}`).toBe(0);
    }
    // From a transposed source ([cols, rows], GPT-2's Conv1D) the store quantises the same matrix.
    const transposedSource = new Float32Array(rows * cols);
    for (let row = 0; row < rows; row++) for (let col = 0; col < cols; col++) transposedSource[col * rows + row] = values[row * cols + col]!;
    for (const [storage, doubleQuant] of storages.filter(([name]) => name === 'int8' || name === 'nf4')) {
      const params = Float64Array.from([0, 0, 0, 0, rows, cols, 1, ['float32', 'bfloat16', 'float16', 'int8', 'nf4', 'fp4'].indexOf(storage), doubleQuant ? 1 : 0]);
      const id = addon.storeCreate(params, new Uint8Array(transposedSource.buffer));
      const native = new Float32Array(rows * cols);
      addon.storeRead(id, native, 0, rows);
      addon.storeFree(id);
      const reference = dequantizeRows(quantizeMatrix(values, rows, cols, storage, doubleQuant));
      expect(
        native.every((value, index) => value === reference[index]),
        `${storage}${doubleQuant ? ' (double quant)' : ''} from a transposed source`,
      ).toBe(true);
    }
  });
});
