import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers every gradient

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { maxAbs, runOn, seededTensor, worstError } from '../__fixtures__/parity';
import { initBackend } from '../init-backend';
import { PATCH_CHUNK_ELEMENTS } from './conv2d-backprop-filter-kernel';
import { registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WasmFix } from './wasm-fix-names';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

const cases: [string, number[], number[], [number, number] | number, Pad][] = [
  // [label, x shape NHWC, filter shape, strides, pad]
  ['3x3 same', [2, 7, 6, 3], [3, 3, 3, 4], 1, 'same'],
  ['3x3 valid', [2, 7, 6, 3], [3, 3, 3, 4], 1, 'valid'],
  ['stride 2 same, odd sizes', [1, 9, 7, 2], [3, 3, 2, 5], 2, 'same'],
  ['stride 2 valid', [2, 8, 8, 3], [2, 2, 3, 2], 2, 'valid'],
  ['strides [2, 3], 4x2 filter, same', [2, 10, 11, 2], [4, 2, 2, 3], [2, 3], 'same'],
  ['1x1 (LoRA up-projection)', [3, 5, 5, 8], [1, 1, 8, 4], 1, 'valid'],
  ['numeric pad 1', [1, 6, 6, 2], [3, 3, 2, 2], 1, 1],
  [
    'explicit asymmetric pads',
    [2, 6, 5, 3],
    [3, 2, 3, 2],
    [2, 1],
    [
      [0, 0],
      [2, 0],
      [1, 3],
      [0, 0],
    ],
  ],
  ['filter as large as the input', [2, 4, 4, 1], [4, 4, 1, 3], 1, 'valid'],
];

function filterGradient(xShape: number[], filterShape: number[], strides: [number, number] | number, pad: Pad) {
  return () => {
    const x = seededTensor(xShape, 1) as tf.Tensor4D;
    const filter = seededTensor(filterShape, 2) as tf.Tensor4D;
    const y = tf.conv2d(x, filter, strides, pad as 'same');
    const weights = seededTensor(y.shape, 3);
    const [dx, dFilter] = tf.grads((input: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(input as tf.Tensor4D, f as tf.Tensor4D, strides, pad as 'same'), weights)))([
      x,
      filter,
    ]);
    return [dFilter, dx];
  };
}

describe('Conv2DBackpropFilter on wasm', () => {
  for (const [label, xShape, filterShape, strides, pad] of cases) {
    it(`matches cpu: ${label}`, async () => {
      const compute = filterGradient(xShape, filterShape, strides, pad);
      const wasm = await runOn('wasm', compute);
      const cpu = await runOn('cpu', compute);
      expect(wasm.shapes[0]).toEqual(filterShape);
      expect(wasm.shapes).toEqual(cpu.shapes);
      expect(worstError(wasm.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
      expect(worstError(wasm.values[1], cpu.values[1])).toBeLessThanOrEqual(1);
      expect(wasm.leakedTensors).toBe(0);
      expect(wasm.leakedBuffers).toBe(0);
    });
  }

  it('matches cpu when the patch matrix is cut into chunks', async () => {
    // 4·64·64 = 16384 columns × 5·5·12 = 300 rows: two chunks, split inside a run of channels.
    const xShape = [4, 64, 64, 12];
    const columns = 4 * 64 * 64;
    expect(5 * 5 * 12 * columns).toBeGreaterThan(PATCH_CHUNK_ELEMENTS);
    expect(Math.floor(PATCH_CHUNK_ELEMENTS / columns) % 12).not.toBe(0);
    const compute = () => {
      const x = seededTensor(xShape, 5) as tf.Tensor4D;
      const dy = seededTensor([4, 64, 64, 3], 6) as tf.Tensor4D;
      return tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 1, 'same'), dy)))(seededTensor([5, 5, 12, 3], 7));
    };
    const wasm = await runOn('wasm', compute);
    const cpu = await runOn('cpu', compute);
    // Each value sums 16384 float32 products (cpu accumulates in float64): compare relative to the largest value.
    expect(worstError(wasm.values[0], cpu.values[0], 1e-5, maxAbs(cpu.values[0]))).toBeLessThanOrEqual(1);
    expect(wasm.leakedBuffers).toBe(0);
  });

  it('matches cpu for NCHW (run as a kernel: wasm conv2d itself is NHWC-only)', async () => {
    const compute = () => {
      const x = seededTensor([2, 3, 7, 6], 8);
      const dy = seededTensor([2, 4, 4, 3], 9);
      return tf.engine().runKernel(
        tf.Conv2DBackpropFilter,
        { x, dy },
        {
          strides: [2, 2],
          pad: 'same',
          dataFormat: 'NCHW',
          filterShape: [3, 3, 3, 4],
        },
      ) as tf.Tensor;
    };
    const wasm = await runOn('wasm', compute);
    const cpu = await runOn('cpu', compute);
    expect(wasm.shapes).toEqual([[3, 3, 3, 4]]);
    expect(worstError(wasm.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
    expect(wasm.leakedBuffers).toBe(0);
  });

  it('is missing on stock wasm (what the fix fills)', async () => {
    unregisterWasmFixes({ fixes: [WasmFix.conv2DBackpropFilter] });
    try {
      await expect(runOn('wasm', filterGradient([1, 4, 4, 1], [2, 2, 1, 1], 1, 'valid'))).rejects.toThrow(/Conv2DBackpropFilter' not registered/);
    } finally {
      registerWasmFixes();
    }
  });
});
