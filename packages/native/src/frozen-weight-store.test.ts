import { afterEach, describe, expect, it } from 'vitest';

import { loadNative } from './load-native';
import { STORE_CREATE_PARAMS, STORE_GATHER_PARAMS, STORE_MAT_MUL_PARAMS, StoreCreateParam, StoreSource, StoreStorage } from './native-addon';

const status = loadNative();
const addon = status.available ? status.addon : undefined;
const reason = status.available ? '' : status.reason;
const f = Math.fround;

/** bitsandbytes' NF4 and FP4 code books, as written in bitsandbytes/functional.py and kernels.cu. */
const NF4 = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534,
  0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
].map(f);

function create(values: Float32Array, rows: number, cols: number, storage: keyof typeof StoreStorage, doubleQuant = false): number {
  const params = new Float64Array(STORE_CREATE_PARAMS);
  params[StoreCreateParam.sourceKind] = 0;
  params[StoreCreateParam.byteOffset] = 0;
  params[StoreCreateParam.sourceType] = StoreSource.F32;
  params[StoreCreateParam.rows] = rows;
  params[StoreCreateParam.cols] = cols;
  params[StoreCreateParam.storage] = StoreStorage[storage];
  params[StoreCreateParam.doubleQuant] = doubleQuant ? 1 : 0;
  return addon!.storeCreate(params, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

function read(entry: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  addon!.storeRead(entry, out, 0, rows);
  return out;
}

const made: number[] = [];
function entry(values: Float32Array, rows: number, cols: number, storage: keyof typeof StoreStorage, doubleQuant = false): number {
  const id = create(values, rows, cols, storage, doubleQuant);
  made.push(id);
  return id;
}
afterEach(() => {
  for (const id of made.splice(0)) addon!.storeFree(id);
});

function seeded(size: number, seed: number): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = (state / 2 ** 32) * 2 - 1;
  }
  return values;
}

describe.skipIf(!addon)(`frozen-weight store quantise → dequantise, hand-computed blocks${addon ? '' : ` (skipped: ${reason})`}`, () => {
  it('bfloat16 and float16 round to nearest even', () => {
    const values = Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 2 ** -25 * 3]);
    expect([...read(entry(values, 1, 7, 'bfloat16'), 1, 7)].slice(0, 3)).toEqual([1, 1 + 2 ** -6, -2.5]);
    const half = read(entry(values, 1, 7, 'float16'), 1, 7);
    // 1 + 2^-8 and 1 + 3·2^-8 are exact in float16; ties 1 + 2^-11 → 1, 1 + 3·2^-11 → 1 + 2^-9; 65520 overflows; 3·2^-25 → 2·2^-24 (subnormal, tie to even)
    expect([...half]).toEqual([1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 1, 1 + 2 ** -9, Infinity, 2 ** -23]);
  });

  it('int8: per-row absmax/127 scale, q = round-half-even(v·127/absmax)', () => {
    const values = Float32Array.from([1, -2, 0.5, 4, 0, 0, 0, 0]);
    const scale = f(4 / 127);
    // 1·127/4 = 31.75 → 32; −63.5 → −64 (half to even); 15.875 → 16; 127; the all-zero row stays zero
    expect([...read(entry(values, 2, 4, 'int8'), 2, 4)]).toEqual([f(32 * scale), f(-64 * scale), f(16 * scale), f(127 * scale), 0, 0, 0, 0]);
  });

  it('nf4: blocks of 64 over the flattened matrix, nearest code (ties to the lower), high nibble first', () => {
    // 2 rows × 35: block 0 = values 0..63 (spanning both rows), block 1 = values 64..69
    const values = new Float32Array(70);
    for (let index = 0; index < 64; index++) values[index] = f(NF4[index % 16]! * 2.5);
    values.set([0.25, -0.1, 0.04, 0.07, f(NF4[8]! / 4), 0.5], 64);
    const out = read(entry(values, 2, 35, 'nf4'), 2, 35);
    for (let index = 0; index < 64; index++) expect(out[index]).toBe(f(NF4[index % 16]! * 2.5));
    // block 1: absmax 0.5; normalised 0.5, −0.2, 0.08, 0.14, the exact midpoint of codes 7 (0) and 8, 1
    const absmax = 0.5;
    const normalised = [...values.slice(64)].map((value) => f(value * f(1 / absmax)));
    const nearest = (x: number) => NF4.reduce((best, code, index) => (Math.abs(x - code) < Math.abs(x - NF4[best]!) ? index : best), 0);
    const expected = normalised.map((x) => f(NF4[nearest(x)]! * absmax));
    expect([...out.slice(64)]).toEqual(expected);
    expect(out[68]).toBe(0); // a value on the midpoint takes the lower code
  });

  it('fp4: bitsandbytes thresholds, sign apart', () => {
    const codes = [0, 0.0052083333, 0.6666667, 1, 0.33333333, 0.5, 0.16666667, 0.25].map(f);
    const values = Float32Array.from([4, 1.2, -1.2, 0.9, 0.01, -3.1, 2.4, 0]);
    const out = read(entry(values, 1, 8, 'fp4'), 1, 8);
    // normalised by absmax 4: 1, 0.3 (→ 1/3), −0.3, 0.225 (→ 1/4), 0.0025 (→ 0), −0.775 (→ −2/3), 0.6 (→ 2/3), 0
    expect([...out]).toEqual([f(codes[3]! * 4), f(codes[4]! * 4), -f(codes[4]! * 4), f(codes[7]! * 4), 0, -f(codes[2]! * 4), f(codes[2]! * 4), 0]);
  });

  it('nf4 with double quantisation: absmax − mean in 8-bit dynamic codes, one absmax per 256 blocks', () => {
    // two blocks whose absmax are 3 and 1: offset 2, nested absmax 1, normalised ±1
    const values = new Float32Array(128);
    values[0] = 3;
    values[64] = 1;
    values[65] = -0.5;
    const out = read(entry(values, 2, 64, 'nf4', true), 2, 64);
    // the dynamic map's largest value is 1; its smallest is −(last linspace(0.1, 1, 65) midpoint)
    const step = f(f(1 - f(0.1)) / 64);
    const smallest = -f(f(f(1 - step) + 1) / 2);
    const absmax0 = f(f(1 * 1) + 2);
    const absmax1 = f(f(smallest * 1) + 2);
    expect(out[0]).toBe(f(1 * absmax0));
    expect(out[64]).toBe(f(NF4[15]! * absmax1));
    // −0.5 / 1 (the block's true absmax) → −0.5 → nearest code −0.525; dequantised with the coded absmax
    expect(out[65]).toBe(f(NF4[2]! * absmax1));
    expect(addon!.storeInfo(made[0]!).nested).toBe(1);
  });

  it('store products: x·Wᵀ and x·W equal a float64 product over the dequantised weight, for every storage, 1 and 2 threads', () => {
    const storages = ['float32', 'bfloat16', 'float16', 'int8', 'nf4', 'fp4'] as const;
    for (const threads of [1, 2]) {
      addon!.setThreads(threads);
      for (const storage of storages) {
        for (const [m, rows, cols] of [
          [5, 37, 19],
          [70, 130, 300],
          [64, 512, 264],
          [13, 4100, 400], // k and n over one cache block (equal blocks, a ragged end)
        ] as const) {
          const id = entry(seeded(rows * cols, 7), rows, cols, storage, storage === 'nf4');
          const weight = read(id, rows, cols);
          for (const transposed of [true, false]) {
            const k = transposed ? cols : rows;
            const n = transposed ? rows : cols;
            const x = seeded(m * k, 11);
            const memory = new Float32Array(3 + m * k + m * n + 5);
            memory.set(x, 3);
            const params = new Float64Array(STORE_MAT_MUL_PARAMS);
            params.set([id, m, 12, 12 + m * k * 4, transposed ? 1 : 0, -1]);
            addon!.storeMatMul(new Uint8Array(memory.buffer), params);
            let worst = 0;
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                let sum = 0;
                for (let p = 0; p < k; p++) sum += x[i * k + p]! * (transposed ? weight[j * cols + p]! : weight[p * cols + j]!);
                worst = Math.max(worst, Math.abs(memory[3 + m * k + i * n + j]! - sum));
              }
            }
            expect(worst, `${storage} ${m}×${rows}×${cols} ${transposed ? 'x·Wᵀ' : 'x·W'} ${threads} thread(s)`).toBeLessThan(1e-4 * Math.sqrt(k));
          }
        }
      }
    }
    addon!.setThreads(1);
  });

  it('gathers rows, rejects indices outside the table and ranges outside the memory', () => {
    const values = seeded(6 * 4, 3);
    const id = entry(values, 6, 4, 'bfloat16');
    const table = read(id, 6, 4);
    const memory = new Int32Array(3 + 3 * 4);
    memory.set([5, 0, 5]);
    const params = new Float64Array(STORE_GATHER_PARAMS);
    params.set([id, 3, 0, 12]);
    addon!.storeGather(new Uint8Array(memory.buffer), params);
    const rows = new Float32Array(memory.buffer, 12, 12);
    expect([...rows]).toEqual([...table.slice(20, 24), ...table.slice(0, 4), ...table.slice(20, 24)]);
    memory[1] = 6;
    expect(() => addon!.storeGather(new Uint8Array(memory.buffer), params)).toThrow(RangeError);
    params.set([id, 3, 0, 16]);
    memory[1] = 0;
    expect(() => addon!.storeGather(new Uint8Array(memory.buffer), params)).toThrow(/outside the memory/);
    expect(() => addon!.storeRead(12345, new Float32Array(4), 0, 1)).toThrow(/unknown entry/);
  });

  it('write requantises in place; free releases the native memory', () => {
    const before = addon!.storeStats().bytes;
    const id = create(seeded(64 * 8, 5), 8, 64, 'nf4');
    expect(addon!.storeStats().bytes - before).toBe((8 * 64) / 2 + 8 * 4);
    const next = seeded(64 * 8, 9);
    addon!.storeWrite(id, next);
    const again = new Float32Array(64 * 8);
    addon!.storeRead(id, again, 0, 8);
    for (let index = 0; index < again.length; index++) expect(Math.abs(again[index]! - next[index]!)).toBeLessThan(0.2);
    addon!.storeFree(id);
    expect(addon!.storeStats().bytes).toBe(before);
  });
});
