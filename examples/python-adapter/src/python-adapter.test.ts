import { beforeAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@peftjs/runtime';
import { runPythonAdapter } from './python-adapter';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

it("a Python PEFT adapter folder gives Python's logits (on, disabled, merged) and greedy ids, shown side by side", async () => {
  const lines: string[] = [];
  const before = tf.memory().numTensors;
  const report = await runPythonAdapter((line) => lines.push(line));
  expect(report.generated).toEqual(report.pythonGenerated);
  expect(report.comparisons.map((row) => row.what)).toEqual(['logits, adapter on', 'logits, adapter disabled', 'greedy ids, row 0', 'greedy ids, row 1', 'logits, merged']);
  for (const row of report.comparisons) expect(row.maxDifference, row.what).toBeLessThanOrEqual(1e-5);
  expect(report.equal).toBe(true);
  expect(lines[0]).toMatch(/LoRA \(r=4, lora_alpha=\d+, 8 target modules\)/);
  expect(lines.join('\n')).toMatch(/logits, adapter on\s+max \|Δ logit\| \d\.\de-\d+ over 2 × 8 × 128\s+equal/);
  // The model's own weights stay; nothing else is left behind.
  expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 200);
});
