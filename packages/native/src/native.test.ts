import { afterEach, describe, expect, it } from 'vitest';

import { loadNative } from './load-native';
import type { NativeIsa } from './native-addon';
import { ADAM_PARAMS, AdamParam, NATIVE_ISAS, NativeActivation, SGEMM_PARAMS, SgemmParam } from './native-addon';

const status = loadNative();
if (!status.available) {
  console.warn(`@peftjs/native tests skipped: ${status.reason}`);
}
const addon = status.available ? status.addon : undefined;
const isas: NativeIsa[] = addon === undefined ? [] : NATIVE_ISAS.slice(0, NATIVE_ISAS.indexOf(addon.info().bestIsa) + 1);

function seeded(size: number, seed: number): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = (state / 2 ** 32) * 2 - 1;
  }
  return values;
}

interface Product {
  batch: number;
  aMatrices: number;
  bMatrices: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  bias?: 'column' | 'scalar';
  activation?: keyof typeof NativeActivation;
}

const activations: Record<string, (x: number, slope: number) => number> = {
  linear: (x) => x,
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  leakyrelu: (x) => (x < 0 ? 0.2 * x : x),
  prelu: (x, slope) => (x < 0 ? slope * x : x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  elu: (x) => (x < 0 ? Math.exp(x) - 1 : x),
};

/** Runs the product natively at odd offsets in one buffer and checks it against a float64 reference. */
function check(product: Product): number {
  const { batch, aMatrices, bMatrices, m, n, k, transposeA, transposeB } = product;
  const a = seeded(aMatrices * m * k, 1);
  const b = seeded(bMatrices * k * n, 2);
  const bias = seeded(n, 3);
  const slopes = seeded(n, 4).map(Math.abs);
  const offsets = { a: 3, b: 3 + a.length + 5, bias: 0, slopes: 0, c: 0 };
  offsets.bias = offsets.b + b.length + 1;
  offsets.slopes = offsets.bias + n;
  offsets.c = offsets.slopes + n + 7;
  const floats = new Float32Array(offsets.c + batch * m * n + 9);
  floats.set(a, offsets.a);
  floats.set(b, offsets.b);
  floats.set(bias, offsets.bias);
  floats.set(slopes, offsets.slopes);
  floats.fill(Number.NaN, offsets.c + batch * m * n); // a guard: nothing may be written past C
  const params = new Float64Array(SGEMM_PARAMS);
  const activation = product.activation ?? 'linear';
  Object.entries({
    batch,
    m,
    n,
    k,
    a: offsets.a * 4,
    b: offsets.b * 4,
    c: offsets.c * 4,
    aStride: m * k,
    bStride: k * n,
    transposeA: +transposeA,
    transposeB: +transposeB,
    bias: product.bias === undefined ? -1 : offsets.bias * 4,
    biasStride: 0,
    biasScalar: +(product.bias === 'scalar'),
    activation: NativeActivation[activation],
    leakyreluAlpha: 0.2,
    prelu: activation === 'prelu' ? offsets.slopes * 4 : -1,
    preluScalar: 0,
    aMatrices,
    bMatrices,
  }).forEach(([key, value]) => {
    params[SgemmParam[key as keyof typeof SgemmParam]] = value;
  });
  addon!.sgemm(floats.buffer, params);
  let worst = 0;
  for (let index = 0; index < batch; index++) {
    const aBase = (index % aMatrices) * m * k;
    const bBase = (index % bMatrices) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        let scale = 0;
        for (let p = 0; p < k; p++) {
          const x = a[aBase + (transposeA ? p * m + i : i * k + p)];
          const y = b[bBase + (transposeB ? j * k + p : p * n + j)];
          sum += x * y;
          scale += Math.abs(x * y);
        }
        if (product.bias !== undefined) {
          sum += product.bias === 'scalar' ? bias[0] : bias[j];
          scale += Math.abs(product.bias === 'scalar' ? bias[0] : bias[j]);
        }
        const want = activations[activation](sum, slopes[j]);
        const got = floats[offsets.c + index * m * n + i * n + j];
        worst = Math.max(worst, Math.abs(got - want) / (scale + 1e-6));
      }
    }
  }
  expect(floats.subarray(offsets.c + batch * m * n).every(Number.isNaN)).toBe(true);
  return worst;
}

const flags: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

const shapes: [string, Omit<Product, 'transposeA' | 'transposeB'>][] = [
  ['tiny', { batch: 1, aMatrices: 1, bMatrices: 1, m: 1, n: 1, k: 1 }],
  ['odd', { batch: 1, aMatrices: 1, bMatrices: 1, m: 7, n: 13, k: 5 }],
  ['edge tiles in every direction', { batch: 1, aMatrices: 1, bMatrices: 1, m: 29, n: 53, k: 37 }],
  ['k over one cache block', { batch: 1, aMatrices: 1, bMatrices: 1, m: 13, n: 40, k: 700 }],
  // k and n cut into equal blocks (k 800: three of 267 on AVX-512; n 4100: two of 2064 + a ragged end)
  ['blocks over k and n', { batch: 1, aMatrices: 1, bMatrices: 1, m: 13, n: 4100, k: 800 }],
  ['LoRA down (64×512·512×8)', { batch: 1, aMatrices: 1, bMatrices: 1, m: 64, n: 8, k: 512 }],
  ['LoRA up (64×8·8×512)', { batch: 1, aMatrices: 1, bMatrices: 1, m: 64, n: 512, k: 8 }],
  ['narrow n', { batch: 1, aMatrices: 1, bMatrices: 1, m: 50, n: 3, k: 20 }],
  ['k = 0', { batch: 1, aMatrices: 1, bMatrices: 1, m: 4, n: 5, k: 0 }],
  ['batched', { batch: 3, aMatrices: 3, bMatrices: 3, m: 9, n: 17, k: 11 }],
  ['b broadcast', { batch: 4, aMatrices: 4, bMatrices: 1, m: 6, n: 19, k: 10 }],
  ['a broadcast', { batch: 4, aMatrices: 1, bMatrices: 4, m: 6, n: 19, k: 10 }],
  ['b cycles (i % 2)', { batch: 6, aMatrices: 6, bMatrices: 2, m: 5, n: 7, k: 3 }],
];

describe.skipIf(addon === undefined)('@peftjs/native sgemm', () => {
  afterEach(() => {
    addon!.setIsa(null);
    addon!.setThreads(1);
  });

  for (const isa of isas) {
    for (const [label, shape] of shapes) {
      for (const [transposeA, transposeB] of flags) {
        it(`${isa}: ${label}, transposeA=${transposeA}, transposeB=${transposeB}`, () => {
          expect(addon!.setIsa(isa)).toBe(true);
          expect(check({ ...shape, transposeA, transposeB })).toBeLessThan(1e-6);
        });
      }
    }
    it(`${isa}: bias and every activation`, () => {
      addon!.setIsa(isa);
      for (const activation of Object.keys(NativeActivation) as (keyof typeof NativeActivation)[]) {
        for (const bias of ['column', 'scalar', undefined] as const) {
          expect(check({ batch: 2, aMatrices: 2, bMatrices: 1, m: 11, n: 21, k: 9, transposeA: false, transposeB: true, bias, activation })).toBeLessThan(1e-5);
        }
      }
    });
  }

  it('splits large products over threads with the same result', () => {
    expect(addon!.setThreads(2)).toBe(2);
    expect(addon!.info().threads).toBe(2);
    for (const [transposeA, transposeB] of flags) {
      expect(check({ batch: 1, aMatrices: 1, bMatrices: 1, m: 130, n: 300, k: 70, transposeA, transposeB, bias: 'column', activation: 'relu' })).toBeLessThan(1e-6);
      expect(check({ batch: 1, aMatrices: 1, bMatrices: 1, m: 8, n: 1000, k: 300, transposeA, transposeB, bias: 'column', activation: 'prelu' })).toBeLessThan(1e-6);
    }
  });

  it('refuses ranges outside the memory and bad parameters, writing nothing', () => {
    const memory = new ArrayBuffer(64);
    const params = new Float64Array(SGEMM_PARAMS);
    params.set([1, 2, 2, 2, 0, 16, 32, 4, 4, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0]);
    addon!.sgemm(memory, params); // fits exactly
    params[SgemmParam.c] = 52;
    expect(() => addon!.sgemm(memory, params)).toThrow(RangeError);
    params[SgemmParam.c] = 34; // not a multiple of 4
    expect(() => addon!.sgemm(memory, params)).toThrow(/outside/);
    params[SgemmParam.c] = 32;
    params[SgemmParam.m] = 2.5;
    expect(() => addon!.sgemm(memory, params)).toThrow(/size/);
    params[SgemmParam.m] = 2;
    params[SgemmParam.activation] = 99;
    expect(() => addon!.sgemm(memory, params)).toThrow(/activation/);
    expect(() => addon!.sgemm(memory, new Float64Array(3))).toThrow(/Float64Array/);
    expect(() => addon!.setIsa('sse9' as NativeIsa)).toThrow(/unknown ISA/);
  });

  it('works on a typed array view of the memory (the wasm heap is passed as HEAPU8)', () => {
    const floats = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0]);
    const params = new Float64Array(SGEMM_PARAMS);
    params.set([1, 2, 2, 2, 0, 16, 32, 4, 4, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0]);
    addon!.sgemm(new Uint8Array(floats.buffer), params);
    expect([...floats.subarray(8)]).toEqual([19, 22, 43, 50]);
  });
});

describe.skipIf(addon === undefined)('@peftjs/native adam', () => {
  afterEach(() => {
    addon!.setThreads(1);
  });

  for (const [label, weightDecay, threads, size] of [
    ['Adam', 0, 1, 1001],
    ['AdamW', 0.01, 1, 1001],
    ['Adam over 2 threads', 0, 2, 70_001],
  ] as const) {
    it(`${label}: one step matches tfjs' float32 formula, in place`, () => {
      addon!.setThreads(threads);
      const [learningRate, beta1, beta2, epsilon, step] = [0.003, 0.9, 0.999, 1e-7, 3];
      const x = seeded(size, 5);
      const m = seeded(size, 6);
      const v = seeded(size, 7).map(Math.abs);
      const g = seeded(size, 8);
      const floats = new Float32Array(size * 4);
      [x, m, v, g].forEach((values, slot) => floats.set(values, slot * size));
      const f = Math.fround;
      const c1 = f(1 - f(f(beta1) ** step));
      const c2 = f(1 - f(f(beta2) ** step));
      const params = new Float64Array(ADAM_PARAMS);
      params.set([size, 0, size * 4, size * 8, size * 12, 0, size * 4, size * 8]);
      params[AdamParam.learningRate] = learningRate;
      params[AdamParam.beta1] = beta1;
      params[AdamParam.beta2] = beta2;
      params[AdamParam.epsilon] = epsilon;
      params[AdamParam.biasCorrection1] = c1;
      params[AdamParam.biasCorrection2] = c2;
      params[AdamParam.weightDecay] = weightDecay;
      params[AdamParam.oneMinusBeta1] = f(1 - beta1);
      params[AdamParam.oneMinusBeta2] = f(1 - beta2);
      addon!.adam(floats.buffer, params);
      let worst = 0;
      for (let index = 0; index < size; index++) {
        const decayed = f(x[index] - f(x[index] * f(f(learningRate) * f(weightDecay))));
        const mNew = f(f(m[index] * f(beta1)) + f(g[index] * f(1 - beta1)));
        const vNew = f(f(v[index] * f(beta2)) + f(f(g[index] * g[index]) * f(1 - beta2)));
        const update = f(f(f(mNew / c1) / f(f(Math.sqrt(f(vNew / c2))) + f(epsilon))) * f(-learningRate));
        const xNew = f(update + (weightDecay === 0 ? x[index] : decayed));
        worst = Math.max(worst, Math.abs(floats[index] - xNew), Math.abs(floats[size + index] - mNew), Math.abs(floats[2 * size + index] - vNew));
      }
      expect(worst).toBeLessThanOrEqual(1e-7);
    });
  }
});

describe('loadNative', () => {
  it('can be disabled by PEFTJS_NATIVE=0', () => {
    const disabled = loadNative({ env: { PEFTJS_NATIVE: '0' } });
    expect(disabled.available).toBe(false);
    expect(disabled.available ? '' : disabled.reason).toMatch(/PEFTJS_NATIVE=0/);
  });
});
