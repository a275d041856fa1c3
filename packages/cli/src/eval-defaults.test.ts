import { beforeAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@peftjs/runtime';
import { cli, REPO_ROOT } from './__fixtures__/run';
import { readRows } from './data/read-rows';
import { tokenizeRows } from './data/tokenize-rows';
import { evaluateCausalLm } from './training/evaluate-loss';
import { TRAIN_DEFAULTS } from './training/train-adapter';
import { loadBase } from './util/load-model';

const BASE = `${REPO_ROOT}examples/tiny-lm/base`;
const DATA = `${REPO_ROOT}examples/tiny-lm/data/qa-eval.jsonl`;

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

it('eval scores rows as train tokenises them by default; --no-append-eos scores them as they are', async () => {
  const before = tf.memory().numTensors;
  const base = await loadBase(BASE);
  const rows = await readRows(DATA);
  // What the trainer optimises and the main job reports: its tokenisation, its max length.
  const asTrained = tokenizeRows(rows, { tokenizer: base.tokenizer, maxLength: TRAIN_DEFAULTS.maxLength });
  const expected = await evaluateCausalLm(base.model, asTrained, { batchSize: 8, padTokenId: base.tokenizer!.padTokenId ?? 0 });
  base.model.dispose();
  expect(tf.memory().numTensors).toBe(before);

  const byDefault = await cli('eval', '--base', BASE, '--data', DATA, '--json');
  expect(byDefault.code, byDefault.stderr).toBe(0);
  const scored = JSON.parse(byDefault.stdout);
  expect(scored.tokens).toBe(expected.tokens);
  expect(Math.abs(scored.loss - expected.loss)).toBeLessThan(1e-5);

  const asTheyAre = JSON.parse((await cli('eval', '--base', BASE, '--data', DATA, '--json', '--no-append-eos')).stdout);
  // One EOS per row fewer.
  expect(asTheyAre.tokens).toBe(expected.tokens - rows.length);
});
