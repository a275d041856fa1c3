import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner } from '@peftjs/core';
import { perturbAdapter } from '@peftjs/core/testing';
import { embeddingInputs, embeddingNet, mlp, mlpInputs } from './__fixtures__/models';
import { createLoraConfig, lora } from './index';

beforeAll(() => {
  registerTuner(lora);
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

function disposeWeights(model: tfl.LayersModel): void {
  for (const weight of model.weights) if (!weight.read().isDisposed) weight.dispose();
}

/** Gradients of Σ output² with respect to every trainable weight, by variable name (async reads). */
async function gradients(model: tfl.LayersModel, x: tf.Tensor): Promise<Record<string, Float32Array>> {
  const before = tf.memory().numTensors;
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, variables);
  const result: Record<string, Float32Array> = {};
  for (const variable of variables) result[variable.name] = (await grads[variable.name]!.data()) as Float32Array;
  tf.dispose([value, ...Object.values(grads)]);
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

describe('on the wasm backend', () => {
  for (const [name, makeModel, makeInputs, targets, useDora] of [
    ['Dense with DoRA', mlp, mlpInputs, ['lin0', 'lin1', 'lin2'], true],
    ['Embedding + Dense', embeddingNet, embeddingInputs, ['lin'], false],
  ] as const) {
    it(`${name}: gradients match the cpu backend`, async () => {
      await tf.setBackend('cpu');
      const peftModel = getPeftModel(makeModel(), createLoraConfig({ r: 3, targetModules: [...targets], useDora }));
      await perturbAdapter(peftModel, 'default', 0.3, 21);
      const x = makeInputs();
      const cpu = await gradients(peftModel.model, x);
      await tf.setBackend('wasm');
      const wasm = await gradients(peftModel.model, x);
      expect(Object.keys(wasm).sort()).toEqual(Object.keys(cpu).sort());
      for (const [key, values] of Object.entries(cpu)) {
        const worst = values.reduce((max, value, index) => Math.max(max, Math.abs(value - wasm[key]![index]!) / (1 + Math.abs(value))), 0);
        expect(worst, key).toBeLessThan(1e-4);
      }
      x.dispose();
      disposeWeights(peftModel.unload());
    });
  }
});
