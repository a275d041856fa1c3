import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { seededTensor, seededValues, worstError } from '../__fixtures__/parity';
import { initBackend } from '../init-backend';
import { suspendNativeForTests } from '../native/native-kernels';
import { createFusedAdam, createFusedAdamW, FusedAdamOptimizer, FusedAdamWOptimizer } from './fused-adam-optimizer';

let native = false;
beforeAll(async () => {
  native = (await initBackend({ backend: 'wasm' })).native?.available === true;
});
afterEach(async () => {
  suspendNativeForTests(false);
  await tf.setBackend('wasm');
});

/** Trains two variables (a matrix and a vector) for `steps` steps; returns their values and the losses. */
async function train(optimizer: tf.Optimizer, steps = 5) {
  const before = tf.memory().numTensors;
  const w = tf.variable(seededTensor([37, 19], 1), true, `w${Math.random()}`);
  const b = tf.variable(seededTensor([19], 2), true, `b${Math.random()}`);
  const x = seededTensor([8, 37], 3);
  const y = seededTensor([8, 19], 4);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, tf.add(tf.matMul(x, w), b)) as tf.Scalar, true)!;
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  const values = [await w.data(), await b.data()].map((data) => Float32Array.from(data));
  optimizer.dispose();
  tf.dispose([w, b, x, y]);
  expect(tf.memory().numTensors).toBe(before);
  return { values, losses };
}

describe('FusedAdamOptimizer', () => {
  it('runs fused on wasm, and unfused elsewhere', async () => {
    expect(createFusedAdam().fused).toBe(true);
    await tf.setBackend('cpu');
    expect(createFusedAdam().fused).toBe(false);
  });

  for (const path of ['native', 'JavaScript'] as const) {
    it(`gives tf.train.adam's numbers on wasm (${path} kernel)`, async () => {
      if (path === 'native' && !native) {
        console.warn('skipped: @peftjs/native is unavailable');
        return;
      }
      suspendNativeForTests(path === 'JavaScript');
      const fused = await train(createFusedAdam({ learningRate: 0.05 }));
      const reference = await train(tf.train.adam(0.05));
      expect(fused.losses[4]).toBeLessThan(fused.losses[0]);
      fused.values.forEach((values, index) => expect(worstError(values, reference.values[index], 1e-6)).toBeLessThanOrEqual(1));
      expect(worstError(fused.losses, reference.losses, 1e-6)).toBeLessThanOrEqual(1);
    });
  }

  it("runs tfjs' own update on cpu, with the same numbers", async () => {
    await tf.setBackend('cpu');
    const fused = await train(createFusedAdam({ learningRate: 0.05 }));
    const reference = await train(tf.train.adam(0.05));
    fused.values.forEach((values, index) => expect(worstError(values, reference.values[index], 1e-7)).toBeLessThanOrEqual(1));
  });

  it('is an AdamOptimizer with the same state, weights and config', async () => {
    const optimizer = createFusedAdam({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    expect(optimizer).toBeInstanceOf(tf.AdamOptimizer);
    expect(optimizer.getClassName()).toBe('Adam');
    expect(optimizer.getConfig()).toEqual({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    const w = tf.variable(seededTensor([5], 1));
    for (let step = 0; step < 3; step++) {
      optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, true)!.dispose();
    }
    const weights = await optimizer.getWeights();
    expect(weights.map((weight) => weight.name)).toEqual(['iter', `${w.name}/m`, `${w.name}/v`]);
    expect(optimizer.iterations).toBe(3);
    // A plain Adam restored from these weights continues exactly as the fused one does.
    const restored = tf.train.adam(0.01, 0.8, 0.99, 1e-6);
    await restored.setWeights(weights.map((weight) => ({ name: weight.name, tensor: tf.clone(weight.tensor) })));
    const twin = tf.variable(tf.clone(w));
    optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, true)!.dispose();
    restored.minimize(() => tf.sum(tf.square(twin)) as tf.Scalar, true, [twin])!.dispose();
    expect(worstError(await w.data(), await twin.data(), 1e-6)).toBeLessThanOrEqual(1);
    optimizer.dispose();
    restored.dispose();
    tf.dispose([w, twin]);
  });

  it('skips variables without a gradient', async () => {
    const optimizer = createFusedAdam({ learningRate: 0.1 });
    const used = tf.variable(tf.ones([3]));
    const unused = tf.variable(tf.ones([3]));
    optimizer.applyGradients({ [used.name]: tf.ones([3]), [unused.name]: null as unknown as tf.Tensor });
    expect(Array.from(await unused.data())).toEqual([1, 1, 1]);
    expect(Array.from(await used.data()).every((value) => value < 1)).toBe(true);
    optimizer.dispose();
    tf.dispose([used, unused]);
  });
});

describe('FusedAdamWOptimizer', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`decays the weights (decoupled) before the Adam step on ${backend}`, async () => {
      await tf.setBackend(backend);
      const learningRate = 0.05;
      const weightDecay = 0.1;
      const adamW = await train(createFusedAdamW({ learningRate, weightDecay }), 1);
      // One step from m = v = 0: x' = x(1 - lr·wd) - lr·g/(|g| + ε·…) — check against plain Adam on decayed weights.
      const plain = await train(createFusedAdam({ learningRate }), 1);
      const initial = [seededValues(37 * 19, 1), seededValues(19, 2)];
      adamW.values.forEach((values, index) => {
        const expected = plain.values[index].map((value, at) => value - initial[index][at] * learningRate * weightDecay);
        expect(worstError(values, expected, 1e-5)).toBeLessThanOrEqual(1);
      });
    });
  }

  it('saves as AdamW with its weight decay and comes back from the config', () => {
    const optimizer = createFusedAdamW({ learningRate: 0.002, weightDecay: 0.05 });
    expect(optimizer.getClassName()).toBe('AdamW');
    const config = optimizer.getConfig();
    expect(config).toMatchObject({ learningRate: 0.002, beta1: 0.9, beta2: 0.999, weightDecay: 0.05 });
    const copy = FusedAdamWOptimizer.fromConfig(FusedAdamWOptimizer, config) as FusedAdamWOptimizer;
    expect(copy).toBeInstanceOf(FusedAdamOptimizer);
    expect(copy.weightDecay).toBe(0.05);
    optimizer.dispose();
    copy.dispose();
  });
});
