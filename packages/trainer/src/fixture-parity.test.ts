import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, type PeftModel } from '@peftjs/core';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { loadPretrained } from '@peftjs/models';
import { prefixTuning, promptTuning, pTuning } from '@peftjs/prompt-tuning';
import { initialState, readTrainCase, snapshot, snapshotKeys, toleranceFraction, trainCaseNames, type TrainCase } from '../../../test-fixtures/peft-train-case';
import { DataOrder, loadTrainableState, Trainer, trainableParameters } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const tuner of [lora, ia3, promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
});

/** The case's model before training: its adapter config, every trainable tensor at its initial value. */
async function initialModel(trainCase: TrainCase): Promise<PeftModel> {
  const base = await loadPretrained(`${trainCase.folder}/base`, 'causal-lm');
  const config = JSON.parse(readFileSync(`${trainCase.folder}/init-adapter/adapter_config.json`, 'utf8'));
  const peftModel = getPeftModel(base, { ...config, inference_mode: false });
  loadTrainableState(peftModel, await initialState(trainCase), { source: `${trainCase.name} initial state` });
  return peftModel;
}

describe.each(trainCaseNames())('training fixture %s', (name) => {
  it('matches PyTorch step by step: losses, grad norms, clip factors, learning rates, gradients and every tensor after every step', async () => {
    const trainCase = await readTrainCase(name);
    const peftModel = await initialModel(trainCase);
    const trainer = new Trainer({
      peftModel,
      args: trainCase.args,
      trainDataset: trainCase.rows.map((inputIds) => ({ inputIds })),
      padTokenId: trainCase.padTokenId,
      callbacks: {
        onStep: async (entry, details) => {
          const k = entry.step;
          const tolerances = trainCase.tolerances;
          const losses = trainCase.io.losses!.values.slice((k - 1) * details.losses.length, k * details.losses.length);
          expect(toleranceFraction(details.losses, losses, tolerances.losses), `losses at step ${k}`).toBeLessThanOrEqual(1);
          expect(toleranceFraction([entry.grad_norm], [trainCase.io.grad_norms!.values[k - 1]!], tolerances.grad_norms), `grad norm at step ${k}`).toBeLessThanOrEqual(1);
          expect(toleranceFraction([details.clipCoefficient], [trainCase.io.clip_coefs!.values[k - 1]!], tolerances.clip_coefs), `clip factor at step ${k}`).toBeLessThanOrEqual(1);
          expect(entry.learning_rate).toBe(trainCase.train.lr_scheduler.lr_per_step[k - 1]);
          for (const key of trainCase.keys) {
            const gradient = details.gradients.get(key);
            expect(gradient, `gradient of ${key}`).toBeDefined();
            expect(toleranceFraction(gradient!, trainCase.io[`grad/step${k}/${key}`]!.values, tolerances.grads), `gradient of ${key} at step ${k}`).toBeLessThanOrEqual(1);
          }
          const state = await trainer.trainableState();
          const adapterFile = peftModel.getStateDict();
          try {
            for (const key of snapshotKeys(trainCase, k)) {
              const actual = state[key]?.values ?? (await adapterFile[key]?.data());
              expect(actual, `${key} after step ${k}`).toBeDefined();
              expect(toleranceFraction(actual!, snapshot(trainCase, k, key)!.values, tolerances.params), `${key} after step ${k}`).toBeLessThanOrEqual(1);
            }
          } finally {
            tf.dispose(Object.values(adapterFile));
          }
        },
      },
    });
    // HF Trainer's decay groups, as the fixture lists them per tensor.
    const decay = Object.fromEntries(trainCase.train.trainable_parameters.map((entry: { key: string; weight_decay: number }) => [entry.key, entry.weight_decay]));
    expect(Object.fromEntries(trainableParameters(peftModel).map((entry) => [entry.key, entry.decay ? trainCase.args.weightDecay : 0]))).toEqual(decay);
    // The micro-batches the fixture lists.
    const order = new DataOrder({ rows: trainCase.rows.length, batchSize: trainCase.train.batch_size, shuffle: false, seed: 0 });
    const accumulation = trainCase.train.gradient_accumulation_steps;
    trainCase.train.data.micro_batches.forEach((step: number[][], k: number) => step.forEach((rows, a) => expect(order.microBatch(k * accumulation + a)).toEqual(rows)));

    const before = tf.memory().numTensors;
    const result = await trainer.train();
    expect(result.globalStep).toBe(trainCase.steps);
    expect(result.log.map((entry) => entry.step)).toEqual(Array.from({ length: trainCase.steps }, (_, index) => index + 1));
    expect(tf.memory().numTensors).toBe(before);
    peftModel.unload();
  });
});
