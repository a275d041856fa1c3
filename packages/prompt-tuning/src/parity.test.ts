import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import { peftFixturePath } from '../../../test-fixtures/index';
import { fixtureAdapterConfig, loadFixtureCase, type FixtureCase } from './__fixtures__/fixture-case';
import { forwardCausalLm, pTuning, prefixTuning, promptTuning } from './index';

/** Max |diff| of the adapted logits per fixture, printed at the end (for the report). */
const diffs: Record<string, number> = {};

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(promptTuning);
  registerTuner(pTuning);
  registerTuner(prefixTuning);
  setWarningHandler(() => {});
});

afterAll(() => {
  console.log(`prompt-learning parity, max |diff| of adapted logits: ${JSON.stringify(diffs)}`);
});

describe.each(['gpt2-prompt-tuning', 'gpt2-p-tuning', 'gpt2-prefix-tuning'])('%s parity with Python PEFT 0.11.1', (caseName) => {
  let fixture: FixtureCase;
  beforeAll(async () => {
    fixture = await loadFixtureCase(caseName);
  });
  afterAll(() => tf.dispose(Object.values(fixture.io)));

  async function load() {
    const base = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
    return fromPretrained(base, fixture.adapterDir);
  }

  it('reproduces the adapted logits (right-padded batch), and the disabled ones', async () => {
    const peftModel = await load();
    const { atol, rtol } = fixture.json;
    const before = tf.memory().numTensors;
    const { logits } = forwardCausalLm(peftModel, { inputIds: fixture.io.input_ids!, attentionMask: fixture.io.attention_mask! });
    expect(logits.shape).toEqual(fixture.io.expected_adapted!.shape);
    expect(await maxCloseViolation(logits, fixture.io.expected_adapted!, atol, rtol)).toBe(0);
    diffs[caseName] = await maxAbsDifference(logits, fixture.io.expected_adapted!);
    const disabled = peftModel.disableAdapter(() => forwardCausalLm(peftModel, { inputIds: fixture.io.input_ids!, attentionMask: fixture.io.attention_mask! }).logits);
    expect(await maxCloseViolation(disabled, fixture.io.expected_disabled!, atol, rtol)).toBe(0);
    tf.dispose([logits, disabled]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the loss with labels = input_ids', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const { logits, loss } = forwardCausalLm(peftModel, { inputIds: fixture.io.input_ids!, attentionMask: fixture.io.attention_mask!, labels: fixture.io.input_ids! });
    const expected = (await fixture.io.expected_loss!.data())[0]!;
    const actual = (await loss!.data())[0]!;
    expect(Math.abs(actual - expected)).toBeLessThanOrEqual(fixture.json.atol + fixture.json.rtol * Math.abs(expected));
    tf.dispose([logits, loss!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the data.jsonl loss, token-weighted as the README says', async () => {
    const peftModel = await load();
    const expected = fixture.json.expected_loss;
    const before = tf.memory().numTensors;
    let weighted = 0;
    let tokens = 0;
    for (const [index, row] of fixture.rows.entries()) {
      const ids = tf.tensor2d([row], [1, row.length], 'int32');
      const { logits, loss } = forwardCausalLm(peftModel, { inputIds: ids, labels: ids });
      const value = (await loss!.data())[0]!;
      tf.dispose([ids, logits, loss!]);
      expect(Math.abs(value - expected.adapted_row_losses[index])).toBeLessThanOrEqual(fixture.json.atol + fixture.json.rtol * Math.abs(expected.adapted_row_losses[index]));
      const predicted = expected.adapted_row_tokens[index];
      weighted += value * predicted;
      tokens += predicted;
    }
    expect(tokens).toBe(expected.adapted_predicted_tokens);
    expect(Math.abs(weighted / tokens - expected.adapted)).toBeLessThanOrEqual(fixture.json.atol + fixture.json.rtol * expected.adapted);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('generates expected_greedy_adapted, with the KV cache and without it', async () => {
    const peftModel = await load();
    const expected = await fixture.io.expected_greedy_adapted!.array();
    const before = tf.memory().numTensors;
    const options = { maxNewTokens: 6, doSample: false, padTokenId: 0 };
    expect(await generate(peftModel, fixture.io.input_ids!, options)).toEqual(expected);
    expect(await generate(peftModel, fixture.io.input_ids!, { ...options, useCache: false })).toEqual(expected);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saves the same prompt_embeddings tensor and the same adapter_config.json keys', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const python = await loadSafetensors(peftFixturePath(caseName, 'adapter', 'adapter_model.safetensors'));
    const ours = peftModel.getStateDict();
    expect(Object.keys(ours)).toEqual(Object.keys(python));
    expect(ours.prompt_embeddings!.shape).toEqual(python.prompt_embeddings!.shape);
    expect(await maxAbsDifference(ours.prompt_embeddings!, python.prompt_embeddings!)).toBe(0);
    const tuner = peftModel.tuner;
    const config = { ...tuner.serializeConfig(peftModel.peftConfig.default!), inference_mode: true };
    expect(config).toEqual(fixtureAdapterConfig(caseName));
    tf.dispose([...Object.values(ours), ...Object.values(python)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
