import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers every gradient, as a training program would

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { runOn, seededTensor, worstError } from '../__fixtures__/parity';
import { initBackend } from '../init-backend';
import { batchMatMulGradConfig } from './batch-mat-mul-grad';
import { registeredWasmFixes, registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WasmFix } from './wasm-fix-names';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

/** [a shape, b shape] of the product op(a)·op(b) with no flags; flags swap the last two axes of the stored operand. */
const shapeCases: [string, number[], number[]][] = [
  ['matrices', [5, 7], [7, 3]],
  ['equal batches', [3, 5, 7], [3, 7, 4]],
  ['rank-4 equal batches', [2, 3, 5, 7], [2, 3, 7, 4]],
  ['b broadcast (rank 2)', [3, 5, 7], [7, 4]],
  ['a broadcast (rank 2)', [5, 7], [3, 7, 4]],
  ['a broadcast (batch of 1)', [1, 5, 7], [3, 7, 4]],
  ['b broadcast along a leading axis', [2, 3, 5, 7], [3, 7, 4]],
  ['per-matrix XNNPACK path', [4, 32, 48], [4, 48, 40]],
  ['per-matrix path, a broadcast', [32, 48], [4, 48, 40]],
  ['per-matrix path, a batch of 1', [1, 32, 48], [4, 48, 40]],
  ['per-matrix path, b broadcast along a leading axis', [2, 3, 32, 48], [3, 48, 40]],
  ['flattened path', [4, 32, 48], [48, 40]],
];

const flagCases: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

function stored(shape: number[], transposed: boolean): number[] {
  if (!transposed) {
    return shape;
  }
  const copy = [...shape];
  [copy[copy.length - 2], copy[copy.length - 1]] = [copy[copy.length - 1], copy[copy.length - 2]];
  return copy;
}

function productAndGradients(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean) {
  return () => {
    const a = seededTensor(stored(aShape, transposeA), 1);
    const b = seededTensor(stored(bShape, transposeB), 2);
    const y = tf.matMul(a, b, transposeA, transposeB);
    const weights = seededTensor(y.shape, 3);
    const [da, db] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, transposeA, transposeB), weights)))([a, b]);
    return [y, da, db];
  };
}

describe('BatchMatMul on wasm with the fixes', () => {
  for (const [label, aShape, bShape] of shapeCases) {
    for (const [transposeA, transposeB] of flagCases) {
      it(`matches cpu: ${label} ${JSON.stringify(aShape)}·${JSON.stringify(bShape)}, transposeA=${transposeA}, transposeB=${transposeB}`, async () => {
        const compute = productAndGradients(aShape, bShape, transposeA, transposeB);
        const wasm = await runOn('wasm', compute);
        const cpu = await runOn('cpu', compute);
        expect(wasm.shapes).toEqual(cpu.shapes);
        expect(wasm.shapes[1]).toEqual(stored(aShape, transposeA));
        expect(wasm.shapes[2]).toEqual(stored(bShape, transposeB));
        for (let index = 0; index < 3; index++) {
          expect(worstError(wasm.values[index], cpu.values[index])).toBeLessThanOrEqual(1);
        }
        expect(wasm.leakedTensors).toBe(0);
        expect(wasm.leakedBuffers).toBe(0);
        if (JSON.stringify(aShape.slice(0, -2)) === JSON.stringify(bShape.slice(0, -2))) {
          // No broadcasting: tfjs' own gradient works and is an independent reference.
          const stock = await withoutGradientFix(() => runOn('cpu', compute));
          for (let index = 0; index < 3; index++) {
            expect(worstError(wasm.values[index], stock.values[index])).toBeLessThanOrEqual(1);
          }
        }
      });
    }
  }
});

async function withoutGradientFix<T>(run: () => Promise<T>): Promise<T> {
  unregisterWasmFixes({ fixes: [WasmFix.batchMatMulGrad] });
  try {
    return await run();
  } finally {
    registerWasmFixes();
  }
}

describe('the BatchMatMul gradient', () => {
  it('is registered by the fixes', () => {
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });

  it('reduces broadcast batch dims: equals the gradient through explicitly tiled inputs', async () => {
    for (const [transposeA, transposeB] of flagCases) {
      const aShape = stored([5, 7], transposeA);
      const bShape = stored([3, 7, 4], transposeB);
      const broadcast = await runOn('cpu', () => {
        const a = seededTensor(aShape, 4);
        const b = seededTensor(bShape, 5);
        const weights = seededTensor([3, 5, 4], 6);
        return tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, transposeA, transposeB), weights)))([a, b]);
      });
      const tiled = await runOn('cpu', () => {
        const a = seededTensor(aShape, 4);
        const b = seededTensor(bShape, 5);
        const weights = seededTensor([3, 5, 4], 6);
        const f = (x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.tile(tf.expandDims(x, 0), [3, 1, 1]), z, transposeA, transposeB), weights));
        return tf.grads(f)([a, b]);
      });
      expect(broadcast.shapes).toEqual([aShape, bShape]);
      expect(worstError(broadcast.values[0], tiled.values[0])).toBeLessThanOrEqual(1);
      expect(worstError(broadcast.values[1], tiled.values[1])).toBeLessThanOrEqual(1);
    }
  });

  it('replaces a stock gradient that fails on broadcast batch dims', async () => {
    await withoutGradientFix(async () => {
      expect(tf.getGradient(tf.BatchMatMul)).not.toBe(batchMatMulGradConfig);
      await expect(runOn('cpu', () => tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.matMul(x, z)))([tf.ones([5, 7]), tf.ones([3, 7, 4])]))).rejects.toThrow(
        /does not match the shape/,
      );
    });
    expect(registeredWasmFixes()).toContain(WasmFix.batchMatMulGrad);
  });
});

describe('the wasm BatchMatMul kernel fix', () => {
  it('gives the same products as the stock wasm kernel', async () => {
    const compute = () => {
      const outputs: tf.Tensor[] = [];
      for (const [, aShape, bShape] of shapeCases) {
        for (const [transposeA, transposeB] of flagCases) {
          const a = seededTensor(stored(aShape, transposeA), 7);
          const b = seededTensor(stored(bShape, transposeB), 8);
          outputs.push(tf.matMul(a, b, transposeA, transposeB));
        }
      }
      return outputs;
    };
    const fixed = await runOn('wasm', compute);
    unregisterWasmFixes({ fixes: [WasmFix.batchMatMulKernel] });
    let stock;
    try {
      stock = await runOn('wasm', compute);
    } finally {
      registerWasmFixes();
    }
    expect(fixed.shapes).toEqual(stock.shapes);
    fixed.values.forEach((values, index) => expect(worstError(values, stock.values[index])).toBeLessThanOrEqual(1));
  });

  it('keeps tfjs-layers Dense (fused matMul) gradients equal to cpu', async () => {
    const compute = () => {
      const x = seededTensor([6, 9], 9);
      const w = seededTensor([9, 4], 10);
      const bias = seededTensor([4], 11);
      const weights = seededTensor([6, 4], 12);
      return tf.grads((input: tf.Tensor, kernel: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.fused.matMul({ a: input, b: kernel, bias: b }), weights)))([x, w, bias]);
    };
    const wasm = await runOn('wasm', compute);
    const cpu = await runOn('cpu', compute);
    wasm.values.forEach((values, index) => expect(worstError(values, cpu.values[index])).toBeLessThanOrEqual(1));
    expect(wasm.leakedBuffers).toBe(0);
  });

  it('handles flagged fused products directly', async () => {
    const compute = () => [
      tf.fused.matMul({ a: seededTensor([9, 6], 13), b: seededTensor([4, 9], 14), transposeA: true, transposeB: true, bias: seededTensor([4], 15), activation: 'relu' }),
    ];
    const wasm = await runOn('wasm', compute);
    const cpu = await runOn('cpu', compute);
    expect(worstError(wasm.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
    expect(wasm.leakedBuffers).toBe(0);
  });
});
