import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';

import { seededValues, worstError } from './__fixtures__/parity';
import { initBackend } from './init-backend';
import { registerWasmFixes, unregisterWasmFixes } from './wasm-fixes/register-wasm-fixes';

const vocabulary = 20;
const sequence = 6;
const examples = 16;

/** Embedding → Conv2D → Dense: every wasm gap a small fine-tuning run hits (segment sum, filter gradient, flagged products). */
function buildModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: vocabulary, outputDim: 8, inputLength: sequence }),
      tfl.layers.reshape({ targetShape: [sequence, 8, 1] }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: [1, 2], padding: 'same', activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10 }), // linear: tf.fused.matMul, whose gradient uses transpose flags
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  return model;
}

/** The same starting weights on every backend (layer initialisers are random). */
let initialWeights: { values: Float32Array; shape: number[] }[];

function data(): { x: tf.Tensor; y: tf.Tensor } {
  const ids = Array.from(seededValues(examples * sequence, 11), (value) => Math.floor((value + 1) * (vocabulary / 2)));
  const labels = Array.from(seededValues(examples, 12), (value) => Math.floor((value + 1) * 1.5));
  return { x: tf.tensor2d(ids, [examples, sequence], 'float32'), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3) };
}

async function train(backend: 'wasm' | 'cpu', steps: number): Promise<{ losses: number[]; leaked: number }> {
  await tf.setBackend(backend);
  const model = buildModel();
  model.setWeights(initialWeights.map(({ values, shape }) => tf.tensor(values, shape)));
  model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
  const { x, y } = data();
  const before = tf.memory().numTensors;
  const history = await model.fit(x, y, { epochs: steps, batchSize: examples, shuffle: false, verbose: 0 });
  const leaked = tf.memory().numTensors - before;
  tf.dispose([x, y]);
  model.dispose();
  return { losses: history.history.loss as number[], leaked };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  await tf.setBackend('cpu');
  const model = buildModel();
  model.build([null, sequence]);
  initialWeights = await Promise.all(model.getWeights().map(async (weight) => ({ values: (await weight.data()) as Float32Array, shape: weight.shape })));
  model.dispose();
});

describe('training a tfjs-layers model on wasm', () => {
  it('fails on stock wasm', async () => {
    unregisterWasmFixes();
    try {
      await expect(train('wasm', 1)).rejects.toThrow(/not registered for backend 'wasm'/);
    } finally {
      registerWasmFixes();
    }
  });

  it('works with the fixes, gives the losses cpu gives, and leaks nothing', async () => {
    const wasm = await train('wasm', 4);
    const cpu = await train('cpu', 4);
    expect(wasm.losses).toHaveLength(4);
    expect(wasm.losses[3]).toBeLessThan(wasm.losses[0]); // it learns
    expect(worstError(wasm.losses, cpu.losses)).toBeLessThanOrEqual(1);
    expect(wasm.leaked).toBe(0);
  });
});
