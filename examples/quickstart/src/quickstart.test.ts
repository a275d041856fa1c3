import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, expect, it } from 'vitest';
import { setWarningHandler } from '@peftjs/core';
import { runQuickstart } from './quickstart';

beforeAll(async () => {
  await tf.setBackend('cpu');
  setWarningHandler(() => {});
});

it('adapts a pretrained model with LoRA, saves, reloads and merges it', async () => {
  const report = await runQuickstart({ epochs: 15 });
  expect(report.trainableParameters).toMatch(/^trainable params: 832 \|\| all params: \d/);
  expect(report.newTaskLossAfter).toBeLessThan(report.newTaskLossBefore * 0.8);
  expect(Object.keys(report.adapterFiles).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
  expect(report.reloadMaxDifference).toBeLessThan(1e-5);
  expect(report.mergeMaxDifference).toBeLessThan(1e-4);
});
