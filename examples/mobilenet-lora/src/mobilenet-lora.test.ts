import { it, expect, beforeAll } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { setWarningHandler } from '@peftjs/core';
import { runMobileNetLora } from './mobilenet-lora';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
});

it('LoRA adapts the pretrained nsfwjs MobileNetV2 to a new 2-class task; the base weights stay as they were', async () => {
  const lines: string[] = [];
  const report = await runMobileNetLora({ trainImages: 16, epochs: 4, log: (line) => lines.push(line) });
  expect(lines[0]).toMatch(/MobileNetV2: \d+ layers, 2,619,461 parameters, input \[224, 224, 3\]/);
  expect(report.trainableParameters).toMatch(/^trainable params: 19,200 \|\| all params: 2,638,661/);
  expect(report.lossAfter).toBeLessThan(report.lossBefore * 0.7);
  expect(report.baseWeightsUnchanged).toBe(true);
  expect(report.adapterTensors).toBe(8);
  expect(report.adapterBytes).toBe(19_200 * 4);
  expect(lines.join('\n')).toMatch(/adapter: 8 tensors, 75\.0 KiB/);
}, 180_000);
