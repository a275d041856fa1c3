import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { setWarningHandler } from '@peftjs/core';
import { runMainJob } from './main-job';

let out: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
  out = await mkdtemp(join(tmpdir(), 'peftjs-main-job-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

it('the main job tunes the shipped tiny LLaMA with LoRA, saves, reloads and merges it (3 epochs here; npm start runs 10)', async () => {
  const lines: string[] = [];
  const report = await runMainJob({ out, epochs: 3, log: (line) => lines.push(line) });
  expect(lines[0]).toMatch(/LlamaForCausalLM, hidden 128, 4 layers, vocab 512, 787,584 parameters/);
  expect(report.trainableParameters).toBe('trainable params: 57,344 || all params: 844,928 || trainable%: 6.7869');
  expect(report.lossAfter).toBeLessThan(report.lossBefore * 0.5);
  expect(report.heldOutLossAfter).toBeLessThan(report.heldOutLossBefore);
  expect(report.heldOutQuestions).toBe(24);
  expect(report.heldOutExactAfter).toBeGreaterThan(report.heldOutExactBefore);
  expect(Object.keys(report.adapterFiles).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'loss_curve.png', 'training_log.json']);
  expect(report.reloadMaxDifference).toBeLessThan(1e-5);
  expect(report.reloadedGenerationsEqual).toBe(true);
  expect(report.mergeMaxDifference).toBeLessThan(1e-4);
  expect(report.mergedGenerationsEqual).toBe(true);
  expect(report.mergedFiles).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
}, 300_000);
