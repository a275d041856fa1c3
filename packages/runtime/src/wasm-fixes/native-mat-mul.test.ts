import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { runOn, seededTensor, worstError } from '../__fixtures__/parity';
import { initBackend } from '../init-backend';
import { createFusedAdam } from '../optimizers/fused-adam-optimizer';
import { isNativeBatchMatMul } from './native-mat-mul-kernel';
import { registeredWasmFixes, registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WASM_FIX_NAMES, WasmFix } from './wasm-fix-names';

// Decided when the file is collected: these tests skip (with a message) where the addon is not built.
const report = await initBackend({ backend: 'wasm' });
const native = report.native?.available === true;
if (!native) {
  console.warn(`native kernel tests skipped: @peftjs/native is unavailable (${report.native?.reason})`);
}
afterAll(() => {
  registerWasmFixes();
});

const stock = () => unregisterWasmFixes();
const nativeOn = () => registerWasmFixes();

/** Runs `compute` on wasm with `setting`, then puts every fix back. */
async function onWasm(setting: () => void, compute: () => tf.Tensor | tf.Tensor[]) {
  setting();
  try {
    return await runOn('wasm', compute);
  } finally {
    registerWasmFixes();
  }
}

/** |native − stock| ≤ 1e-5 · max |stock| (relative to the output's scale), element by element. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let scale = 0;
  for (const value of expected) scale = Math.max(scale, Math.abs(value));
  return worstError(actual, expected, 1e-5, scale || 1);
}

function stored(shape: number[], transposed: boolean): number[] {
  if (!transposed) return shape;
  const copy = [...shape];
  [copy[copy.length - 2], copy[copy.length - 1]] = [copy[copy.length - 1], copy[copy.length - 2]];
  return copy;
}

const flagCases: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

const shapeCases: [string, number[], number[]][] = [
  ['matrices', [5, 7], [7, 3]],
  ['one row', [1, 9], [9, 33]],
  ['edge tiles', [29, 37], [37, 53]],
  ['LoRA down', [64, 512], [512, 8]],
  ['LoRA up', [64, 8], [8, 512]],
  ['equal batches', [3, 5, 7], [3, 7, 4]],
  ['rank-4 equal batches', [2, 3, 5, 7], [2, 3, 7, 4]],
  ['b broadcast (rank 2)', [3, 5, 7], [7, 4]],
  ['a broadcast (rank 2)', [5, 7], [3, 7, 4]],
  ['a broadcast (batch of 1)', [1, 5, 7], [3, 7, 4]],
  ['b broadcast along a leading axis', [2, 3, 5, 7], [3, 7, 4]],
  ['attention-like', [4, 32, 16], [4, 16, 32]],
];

describe.runIf(native)('native BatchMatMul', () => {
  it("is the registered wasm kernel, over runtime's own", () => {
    expect(registeredWasmFixes()).toEqual(WASM_FIX_NAMES);
    expect(isNativeBatchMatMul(tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc)).toBe(true);
  });

  for (const [label, aShape, bShape] of shapeCases) {
    for (const [transposeA, transposeB] of flagCases) {
      it(`matches the stock wasm kernel and cpu within 1e-5: ${label} ${JSON.stringify(aShape)}·${JSON.stringify(bShape)}, transposeA=${transposeA}, transposeB=${transposeB}`, async () => {
        const product = () => tf.matMul(seededTensor(stored(aShape, transposeA), 1), seededTensor(stored(bShape, transposeB), 2), transposeA, transposeB);
        const withNative = await onWasm(nativeOn, product);
        const reference = await onWasm(stock, product);
        const cpu = await runOn('cpu', product);
        await tf.setBackend('wasm');
        expect(withNative.shapes).toEqual(cpu.shapes);
        expect(relativeError(withNative.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
        if (JSON.stringify(reference.shapes) === JSON.stringify(cpu.shapes)) {
          expect(relativeError(withNative.values[0], reference.values[0])).toBeLessThanOrEqual(1);
        }
        expect(withNative.leakedTensors).toBe(0);
        expect(withNative.leakedBuffers).toBe(0);
      });
    }
  }

  it('gives gradients equal to cpu on every transpose and broadcast combination', async () => {
    for (const [, aShape, bShape] of shapeCases) {
      for (const [transposeA, transposeB] of flagCases) {
        const compute = () => {
          const a = seededTensor(stored(aShape, transposeA), 3);
          const b = seededTensor(stored(bShape, transposeB), 4);
          const weights = seededTensor(tf.matMul(a, b, transposeA, transposeB).shape, 5);
          return tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, transposeA, transposeB), weights)))([a, b]);
        };
        const withNative = await onWasm(nativeOn, compute);
        const cpu = await runOn('cpu', compute);
        await tf.setBackend('wasm');
        expect(withNative.shapes).toEqual(cpu.shapes);
        withNative.values.forEach((values, index) => expect(relativeError(values, cpu.values[index])).toBeLessThanOrEqual(1));
        expect(withNative.leakedBuffers).toBe(0);
      }
    }
  });

  it('writes a product whose output grows the wasm heap (the heap view is taken after allocating)', async () => {
    const product = () => tf.matMul(seededTensor([1536, 48], 6), seededTensor([48, 3072], 7)); // 18 MiB out
    const withNative = await onWasm(nativeOn, product);
    const cpu = await runOn('cpu', product);
    await tf.setBackend('wasm');
    expect(relativeError(withNative.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
  });

  it('hands what it does not cover (int32, mismatched sizes) to the kernel below, which reports it as stock wasm does', () => {
    const ints = () => tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6, 7, 8], [2, 2], 'int32')));
    expect(ints).toThrow(/non float32|not yet supported/);
    expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2])))).toThrow(/inner shapes/);
    stock();
    try {
      expect(ints).toThrow(/non float32|not yet supported/);
    } finally {
      registerWasmFixes();
    }
  });

  it("keeps its place over runtime's kernel when that one is removed and registered again", () => {
    unregisterWasmFixes({ fixes: [WasmFix.batchMatMulKernel] });
    expect(isNativeBatchMatMul(tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc)).toBe(true);
    registerWasmFixes({ fixes: [WasmFix.batchMatMulKernel] });
    expect(isNativeBatchMatMul(tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc)).toBe(true);
    expect(registeredWasmFixes()).toEqual(WASM_FIX_NAMES);
    unregisterWasmFixes({ fixes: [WasmFix.nativeMatMul] });
    expect(isNativeBatchMatMul(tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc)).toBe(false);
    registerWasmFixes();
    expect(isNativeBatchMatMul(tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc)).toBe(true);
  });
});

describe.runIf(native)('native _FusedMatMul', () => {
  const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu', 'prelu'] as const;
  for (const activation of activations) {
    it(`matches the stock wasm kernel and cpu within 1e-5: ${activation}, every transpose, bias per column / scalar / none, batched`, async () => {
      const compute = () => {
        const outputs: tf.Tensor[] = [];
        for (const [transposeA, transposeB] of flagCases) {
          for (const [aShape, bShape] of [
            [
              [13, 21],
              [21, 17],
            ],
            [
              [3, 13, 21],
              [21, 17],
            ],
            [
              [2, 13, 21],
              [2, 21, 17],
            ],
          ] as [number[], number[]][]) {
            for (const bias of [seededTensor([17], 3), seededTensor([1], 4), undefined]) {
              outputs.push(
                tf.fused.matMul({
                  a: seededTensor(stored(aShape, transposeA), 1, 3),
                  b: seededTensor(stored(bShape, transposeB), 2),
                  transposeA,
                  transposeB,
                  bias,
                  activation,
                  preluActivationWeights: activation === 'prelu' ? tf.abs(seededTensor([17], 5)) : undefined,
                  leakyreluAlpha: 0.3,
                }),
              );
            }
          }
        }
        return outputs;
      };
      const withNative = await onWasm(nativeOn, compute);
      const reference = await onWasm(stock, compute);
      const cpu = await runOn('cpu', compute);
      await tf.setBackend('wasm');
      let comparedWithStock = 0;
      withNative.values.forEach((values, index) => {
        expect(relativeError(values, cpu.values[index])).toBeLessThanOrEqual(1);
        // The stock wasm kernel is wrong for some of these (a one-value bias, batched a over one b,
        // transpose flags with a bias); compare with it where it agrees with cpu.
        if (relativeError(reference.values[index], cpu.values[index]) <= 1) {
          expect(relativeError(values, reference.values[index])).toBeLessThanOrEqual(1);
          comparedWithStock++;
        }
      });
      expect(comparedWithStock).toBeGreaterThan(0);
      expect(withNative.leakedBuffers).toBe(0);
    });
  }

  it('hands a bias it does not cover (a full matrix) to the kernel below, which reports it as stock wasm does', () => {
    const compute = () => tf.tidy(() => tf.fused.matMul({ a: tf.ones([6, 5]), b: tf.ones([5, 4]), bias: tf.ones([6, 4]), activation: 'relu' }));
    expect(compute).toThrow(/only supports rank-1 bias/);
    stock();
    try {
      expect(compute).toThrow(/only supports rank-1 bias/);
    } finally {
      registerWasmFixes();
    }
  });
});

describe.runIf(native)('a seeded training run', () => {
  it('gives the same losses with and without the native kernels and fused Adam', async () => {
    const run = async (setting: () => void, fused: boolean) => {
      setting();
      try {
        await tf.setBackend('wasm');
        const before = tf.memory().numTensors;
        const model = tfl.sequential({
          layers: [0, 1, 2].map((index) =>
            tfl.layers.dense({
              units: 64,
              activation: index < 2 ? 'relu' : 'linear',
              kernelInitializer: tfl.initializers.glorotUniform({ seed: 10 + index }),
              biasInitializer: 'zeros',
              ...(index === 0 ? { inputShape: [48] } : {}),
            }),
          ),
        });
        const x = seededTensor([32, 48], 1);
        const y = seededTensor([32, 64], 2);
        const optimizer = fused ? createFusedAdam({ learningRate: 0.01 }) : tf.train.adam(0.01);
        const values: number[] = [];
        for (let step = 0; step < 6; step++) {
          const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)!;
          values.push((await loss.data())[0]);
          loss.dispose();
        }
        optimizer.dispose();
        model.dispose();
        tf.dispose([x, y]);
        expect(tf.memory().numTensors).toBe(before);
        return values;
      } finally {
        registerWasmFixes();
      }
    };
    const reference = await run(stock, false);
    const withNative = await run(nativeOn, true);
    expect(reference[5]).toBeLessThan(reference[0]); // it trains
    expect(worstError(withNative, reference, 1e-5)).toBeLessThanOrEqual(1);
  });
});
