import type { NativeAddon } from './native-addon';
import { ADAM_PARAMS, AdamParam, NativeActivation, SGEMM_PARAMS, SgemmParam } from './native-addon';

/** Deterministic values in [-1, 1). */
function fill(values: Float32Array, seed: number): void {
  let state = seed >>> 0 || 1;
  for (let index = 0; index < values.length; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = (state / 2 ** 32) * 2 - 1;
  }
}

interface Case {
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  bMatrices: number;
  bias: boolean;
  relu: boolean;
}

const cases: Case[] = [
  { batch: 1, m: 5, n: 7, k: 3, transposeA: false, transposeB: false, bMatrices: 1, bias: false, relu: false },
  { batch: 1, m: 13, n: 37, k: 300, transposeA: true, transposeB: false, bMatrices: 1, bias: true, relu: true },
  { batch: 2, m: 9, n: 20, k: 11, transposeA: false, transposeB: true, bMatrices: 2, bias: false, relu: false },
  { batch: 3, m: 7, n: 8, k: 17, transposeA: true, transposeB: true, bMatrices: 1, bias: true, relu: false },
  { batch: 1, m: 64, n: 8, k: 64, transposeA: false, transposeB: false, bMatrices: 1, bias: false, relu: false },
];

/**
 * Checks the addon against a float64 reference on small products (every transpose combination,
 * batches, broadcasting, bias and relu, edge tiles) and one Adam step. Returns what failed, or
 * undefined when all passed. Runs in well under a millisecond.
 */
export function selfTest(addon: NativeAddon): string | undefined {
  for (const test of cases) {
    const { batch, m, n, k, transposeA, transposeB, bMatrices, bias, relu } = test;
    const aSize = batch * m * k;
    const bSize = bMatrices * k * n;
    const buffer = new ArrayBuffer((aSize + bSize + batch * m * n + n + 4) * 4);
    const floats = new Float32Array(buffer);
    const a = floats.subarray(0, aSize);
    const b = floats.subarray(aSize, aSize + bSize);
    const biasValues = floats.subarray(aSize + bSize, aSize + bSize + n);
    const cStart = aSize + bSize + n;
    fill(a, 1 + m);
    fill(b, 2 + n);
    fill(biasValues, 3 + k);
    const params = new Float64Array(SGEMM_PARAMS);
    params[SgemmParam.batch] = batch;
    params[SgemmParam.m] = m;
    params[SgemmParam.n] = n;
    params[SgemmParam.k] = k;
    params[SgemmParam.a] = 0;
    params[SgemmParam.b] = aSize * 4;
    params[SgemmParam.c] = cStart * 4;
    params[SgemmParam.aStride] = m * k;
    params[SgemmParam.bStride] = k * n;
    params[SgemmParam.transposeA] = transposeA ? 1 : 0;
    params[SgemmParam.transposeB] = transposeB ? 1 : 0;
    params[SgemmParam.bias] = bias ? (aSize + bSize) * 4 : -1;
    params[SgemmParam.activation] = relu ? NativeActivation.relu : NativeActivation.linear;
    params[SgemmParam.prelu] = -1;
    params[SgemmParam.aMatrices] = batch;
    params[SgemmParam.bMatrices] = bMatrices;
    addon.sgemm(buffer, params);
    for (let index = 0; index < batch; index++) {
      const aBase = index * m * k;
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
          if (bias) {
            sum += biasValues[j];
          }
          if (relu && sum < 0) {
            sum = 0;
          }
          const got = floats[cStart + index * m * n + i * n + j];
          if (!(Math.abs(got - sum) <= 1e-5 * (scale + 1))) {
            return `sgemm ${JSON.stringify(test)}: C[${index}][${i}][${j}] is ${got}, expected ${sum}`;
          }
        }
      }
    }
  }
  // One Adam step on 37 values (odd: the vector loop's tail).
  const size = 37;
  const buffer = new ArrayBuffer(size * 7 * 4);
  const floats = new Float32Array(buffer);
  fill(floats.subarray(0, size * 4), 9);
  for (let index = 0; index < size; index++) {
    floats[2 * size + index] = Math.abs(floats[2 * size + index]); // v ≥ 0
  }
  const params = new Float64Array(ADAM_PARAMS);
  const [learningRate, beta1, beta2, epsilon] = [0.01, 0.9, 0.999, 1e-7];
  params.set([size, 0, size * 4, size * 8, size * 12, size * 16, size * 20, size * 24], 0);
  params[AdamParam.learningRate] = learningRate;
  params[AdamParam.beta1] = beta1;
  params[AdamParam.beta2] = beta2;
  params[AdamParam.epsilon] = epsilon;
  params[AdamParam.biasCorrection1] = 1 - beta1;
  params[AdamParam.biasCorrection2] = 1 - beta2;
  params[AdamParam.weightDecay] = 0;
  params[AdamParam.oneMinusBeta1] = 1 - beta1;
  params[AdamParam.oneMinusBeta2] = 1 - beta2;
  addon.adam(buffer, params);
  for (let index = 0; index < size; index++) {
    const [x, m, v, g] = [0, 1, 2, 3].map((slot) => floats[slot * size + index]);
    const mNew = m * beta1 + g * (1 - beta1);
    const vNew = v * beta2 + g * g * (1 - beta2);
    const xNew = x - (learningRate * (mNew / (1 - beta1))) / (Math.sqrt(vNew / (1 - beta2)) + epsilon);
    const got = [floats[4 * size + index], floats[5 * size + index], floats[6 * size + index]];
    const want = [xNew, mNew, vNew];
    for (let slot = 0; slot < 3; slot++) {
      if (!(Math.abs(got[slot] - want[slot]) <= 1e-5 * (Math.abs(want[slot]) + 1e-3))) {
        return `adam: output ${slot} at ${index} is ${got[slot]}, expected ${want[slot]}`;
      }
    }
  }
  return undefined;
}
