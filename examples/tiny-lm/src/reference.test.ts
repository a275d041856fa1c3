import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { loadSafetensors } from '@peftjs/hub';
import { loadTokenizer } from '@peftjs/cli';
import { PROMPTS, referenceOutputs } from '../check/make-reference';

const here = fileURLToPath(new URL('../check/', import.meta.url));

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

it('check/reference.* (what the Python check compares against) matches the shipped base', async () => {
  const meta = JSON.parse(await readFile(`${here}reference.json`, 'utf8'));
  expect(meta.prompts).toEqual(PROMPTS);
  const tokenizer = await loadTokenizer(fileURLToPath(new URL('../base/', import.meta.url)));
  expect(PROMPTS.map((text) => tokenizer.encode(text))).toEqual(meta.input_ids);
  const stored = await loadSafetensors(`${here}reference.safetensors`);
  const now = await referenceOutputs();
  expect(await stored.input_ids!.array()).toEqual(now.inputIds);
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(now.logits, stored.logits!))));
  expect((await difference.data())[0]).toBeLessThan(1e-4);
  tf.dispose([difference, now.logits, ...Object.values(stored)]);
});
