import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, perturbAdapter } from '@peftjs/core/testing';
import { fromPretrained, loadAdapter, loadSafetensors, savePretrained } from '@peftjs/hub';
import { fixtureAdapterConfig } from './__fixtures__/fixture-case';
import { tinyCausalLm, tinyInputs } from './__fixtures__/tiny-models';
import { forwardCausalLm, pTuning, prefixTuning, promptTuning } from './index';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler(() => {});
  dir = await mkdtemp(join(tmpdir(), 'peftjs-prompt-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cases: Array<[string, Record<string, unknown>, string, number[]]> = [
  ['prompt tuning', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, task_type: 'CAUSAL_LM' }, 'gpt2-prompt-tuning', [4, 16]],
  ['P-tuning (MLP)', { peft_type: 'P_TUNING', num_virtual_tokens: 3, encoder_hidden_size: 8, task_type: 'CAUSAL_LM' }, 'gpt2-p-tuning', [3, 16]],
  ['P-tuning (LSTM)', { peft_type: 'P_TUNING', num_virtual_tokens: 3, encoder_reparameterization_type: 'LSTM', task_type: 'CAUSAL_LM' }, 'gpt2-p-tuning', [3, 16]],
  ['prefix tuning', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, task_type: 'CAUSAL_LM' }, 'gpt2-prefix-tuning', [3, 2 * 2 * 16]],
  ['prefix tuning (projection)', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, prefix_projection: true, task_type: 'CAUSAL_LM' }, 'gpt2-prefix-tuning', [3, 2 * 2 * 16]],
];

describe('savePretrained / fromPretrained (@peftjs/hub, unchanged) round trip', () => {
  it.each(cases)('%s: PEFT files (one prompt_embeddings tensor, PEFT config keys) that reload to the same outputs', async (name, config, fixture, shape) => {
    const folder = join(dir, name.replace(/\W+/g, '-'));
    const trained = getPeftModel(tinyCausalLm(), config);
    await perturbAdapter(trained, 'default', 0.5, 3);
    const [ids, mask] = tinyInputs(tf);
    const expected = forwardCausalLm(trained, { inputIds: ids, attentionMask: mask }).logits;
    await savePretrained(trained, folder);
    expect((await readdir(folder)).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    const saved = await loadSafetensors(join(folder, 'adapter_model.safetensors'));
    expect(Object.keys(saved)).toEqual(['prompt_embeddings']);
    expect(saved.prompt_embeddings!.shape).toEqual(shape);
    const json = JSON.parse(await readFile(join(folder, 'adapter_config.json'), 'utf8'));
    expect(Object.keys(json).sort()).toEqual(Object.keys(fixtureAdapterConfig(fixture)).sort());
    expect(json.inference_mode).toBe(true);

    const base = tinyCausalLm();
    const before = tf.memory().numTensors;
    const loaded = await fromPretrained(base, folder);
    expect(loaded.getNbTrainableParameters()[0]).toBe(0);
    // Loaded for inference, as PEFT: an encoder is not rebuilt, the saved (encoded) prompt is used directly.
    expect(loaded.getNbTrainableParameters()[1]).toBe(base.countParams() + shape[0]! * shape[1]!);
    const actual = forwardCausalLm(loaded, { inputIds: ids, attentionMask: mask }).logits;
    expect(await maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
    const resaved = loaded.getStateDict();
    expect(await maxAbsDifference(resaved.prompt_embeddings!, saved.prompt_embeddings!)).toBe(0);
    tf.dispose([actual, ...Object.values(resaved)]);
    loaded.unload();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    tf.dispose([ids, mask, expected, ...Object.values(saved)]);
    trained.unload();
  });

  it('loads for training (isTrainable): prompt tuning keeps training its loaded virtual tokens', async () => {
    const folder = join(dir, 'trainable');
    const trained = getPeftModel(tinyCausalLm(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2 });
    await savePretrained(trained, folder);
    const loaded = await fromPretrained(tinyCausalLm(), folder, { isTrainable: true });
    expect(loaded.getNbTrainableParameters()[0]).toBe(2 * 16);
    const ours = loaded.getStateDict();
    const theirs = trained.getStateDict();
    expect(await maxAbsDifference(ours.prompt_embeddings!, theirs.prompt_embeddings!)).toBe(0);
    tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
    loaded.unload();
    trained.unload();
  });

  it('a second adapter goes into a subfolder and loads with loadAdapter; a bad file changes nothing', async () => {
    const folder = join(dir, 'two');
    const peftModel = getPeftModel(tinyCausalLm(), { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 2 });
    peftModel.addAdapter('long', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 5 });
    await perturbAdapter(peftModel, 'long', 0.5, 8);
    await savePretrained(peftModel, folder);
    expect((await readdir(join(folder, 'long'))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const [ids, mask] = tinyInputs(tf);
    peftModel.setAdapter('long');
    const expected = forwardCausalLm(peftModel, { inputIds: ids, attentionMask: mask }).logits;

    const target = await fromPretrained(tinyCausalLm(), folder);
    await loadAdapter(target, join(folder, 'long'), 'long');
    expect(target.adapterNames).toEqual(['default', 'long']);
    target.setAdapter('long');
    const actual = forwardCausalLm(target, { inputIds: ids, attentionMask: mask }).logits;
    expect(await maxAbsDifference(actual, expected)).toBeLessThan(1e-5);

    // A prefix of 4 tokens does not fit the adapter of 5: refused before anything is written.
    const wrong = { prompt_embeddings: tf.zeros([4, 64]) };
    expect(() => target.loadStateDict(wrong, 'long')).toThrow(/shape \[4, 64\]; the model expects \[5, 64\]/);
    expect(() => target.loadStateDict({}, 'long')).toSatisfy((run: () => void) => {
      try {
        run();
        return false;
      } catch (error) {
        return AdapterFormatError.isInstance(error);
      }
    });
    const after = forwardCausalLm(target, { inputIds: ids, attentionMask: mask }).logits;
    expect(await maxAbsDifference(after, expected)).toBeLessThan(1e-5);
    tf.dispose([ids, mask, expected, actual, after, wrong.prompt_embeddings]);
    target.unload();
    peftModel.unload();
  });
});
