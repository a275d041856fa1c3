import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../init-backend';
import { registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { tileGradConfig } from './tile-grad';
import { WasmFix } from './wasm-fix-names';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});
afterAll(() => {
  registerWasmFixes();
});

/** The Tile gradient by its definition: each input element collects the gradient of every copy. */
function expectedGradient(x: tf.Tensor, reps: number[], dy: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let gradient = tf.zerosLike(x);
    const copies = reps.reduce((a, b) => a * b, 1);
    for (let copy = 0; copy < copies; copy++) {
      let rest = copy;
      const begin = reps.map((_, axis) => {
        const stride = reps.slice(axis + 1).reduce((a, b) => a * b, 1);
        const index = Math.floor(rest / stride);
        rest %= stride;
        return index * x.shape[axis]!;
      });
      gradient = tf.add(gradient, tf.slice(dy, begin, x.shape));
    }
    return gradient;
  });
}

describe.each(['cpu', 'wasm'])('Tile gradient on %s', (backend) => {
  it.each([
    [[3], [4]],
    [
      [2, 3],
      [1, 5],
    ],
    [
      [2, 3],
      [4, 2],
    ],
    [
      [2, 1, 3],
      [2, 6, 1],
    ],
    [
      [1, 2, 2, 2],
      [2, 1, 3, 2],
    ],
  ])('x %j tiled %j equals the sum over its copies', async (shape, reps) => {
    await tf.setBackend(backend);
    registerWasmFixes({ fixes: [WasmFix.tileGrad] });
    const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
    const outputShape = shape.map((size, axis) => size * reps[axis]!);
    const dy = tf.randomNormal(outputShape, 0, 1, 'float32', 2);
    const before = tf.memory().numTensors;
    const gradient = tf.grad((input: tf.Tensor) => tf.tile(input, reps))(x, dy);
    const expected = expectedGradient(x, reps, dy);
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(gradient, expected))));
    expect((await difference.data())[0]).toBeLessThan(1e-5);
    expect(gradient.shape).toEqual(shape);
    tf.dispose([gradient, expected, difference]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy]);
  });

  it('is registered with the fixes and unregistered with them', async () => {
    await tf.setBackend(backend);
    registerWasmFixes({ fixes: [WasmFix.tileGrad] });
    expect(tf.getGradient(tf.Tile)).toBe(tileGradConfig);
    unregisterWasmFixes({ fixes: [WasmFix.tileGrad] });
    expect(tf.getGradient(tf.Tile)).not.toBe(tileGradConfig);
  });
});
