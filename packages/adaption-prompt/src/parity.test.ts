import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, causalLmLoss, generate } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { adaptionPrompt } from './index';

const CASE = 'llama-adaption-prompt';
const json = peftCase(CASE);
const { atol, rtol } = json as { atol: number; rtol: number };
let io: Record<string, tf.Tensor>;

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(adaptionPrompt);
  setWarningHandler(() => {});
  io = await loadSafetensors(peftFixturePath(CASE, 'io.safetensors'));
});

afterAll(() => tf.dispose(Object.values(io)));

async function load(): Promise<PeftModel> {
  const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
  return fromPretrained(base, peftFixturePath(CASE, 'adapter'));
}

function logitsOf(peftModel: PeftModel, ids: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const intIds = tf.cast(ids, 'int32');
    return peftModel.model.predict([intIds, mask ? tf.cast(mask, 'float32') : tf.cast(tf.onesLike(intIds), 'float32')]) as tf.Tensor;
  });
}

describe('llama-adaption-prompt parity with Python PEFT 0.11.1', () => {
  it('reproduces the adapted logits (right-padded batch) and the disabled ones', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const logits = logitsOf(peftModel, io.input_ids!, io.attention_mask!);
    expect(logits.shape).toEqual(io.expected_adapted!.shape);
    expect(await maxCloseViolation(logits, io.expected_adapted!, atol, rtol)).toBe(0);
    expect(await maxAbsDifference(logits, io.expected_base!)).toBeGreaterThan(1e-2);
    const disabled = peftModel.disableAdapter(() => logitsOf(peftModel, io.input_ids!, io.attention_mask!));
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol)).toBe(0);
    tf.dispose([logits, disabled]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the loss with labels = input_ids, and the data.jsonl loss', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const loss = tf.tidy(() => causalLmLoss(tf.cast(io.input_ids!, 'int32'), logitsOf(peftModel, io.input_ids!, io.attention_mask!)));
    const expectedLoss = (await io.expected_loss!.data())[0]!;
    expect(Math.abs((await loss.data())[0]! - expectedLoss)).toBeLessThanOrEqual(atol + rtol * Math.abs(expectedLoss));
    loss.dispose();
    const rows = readFileSync(peftFixturePath(CASE, 'data.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).input_ids as number[]);
    let weighted = 0;
    let tokens = 0;
    for (const row of rows) {
      const value = tf.tidy(() => {
        const ids = tf.tensor2d([row], [1, row.length], 'int32');
        return causalLmLoss(ids, logitsOf(peftModel, ids));
      });
      weighted += (await value.data())[0]! * (row.length - 1);
      tokens += row.length - 1;
      value.dispose();
    }
    const expected = json.expected_loss.adapted as number;
    expect(Math.abs(weighted / tokens - expected)).toBeLessThanOrEqual(atol + rtol * expected);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('generates the greedy ids with the KV cache, and without it', async () => {
    const peftModel = await load();
    const expected = (await io.expected_greedy_adapted!.array()) as number[][];
    const prompt = (await io.input_ids!.array()) as number[][];
    const options = { maxNewTokens: 6, doSample: false, padTokenId: 0 };
    expect(await generate(peftModel.model, prompt, options)).toEqual(expected);
    expect(await generate(peftModel.model, prompt, { ...options, useCache: false })).toEqual(expected);
    const base = (await io.expected_greedy_base!.array()) as number[][];
    expect(await peftModel.disableAdapter(() => generate(peftModel.model, prompt, options))).toEqual(base);
  });

  it('saves the PEFT keys and shapes, and round-trips them', async () => {
    const peftModel = await load();
    expect(peftModel.getStateDictShapes()).toEqual(json.adapters[0].tensors);
    const saved = peftModel.getStateDict();
    const fileTensors = await loadSafetensors(peftFixturePath(CASE, 'adapter', 'adapter_model.safetensors'));
    for (const [key, value] of Object.entries(fileTensors)) expect(await maxAbsDifference(saved[key]!, value)).toBe(0);
    const config = peftModel.tuner.serializeConfig(peftModel.peftConfig.default!);
    const file = JSON.parse(readFileSync(peftFixturePath(CASE, 'adapter', 'adapter_config.json'), 'utf8'));
    for (const key of Object.keys(file)) if (key !== 'inference_mode') expect(config[key], key).toEqual(file[key]);
    const fresh = getPeftModel(await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base')), { peft_type: 'ADAPTION_PROMPT', adapter_len: 4, adapter_layers: 1 });
    const missing = { ...saved };
    delete missing['base_model.model.model.layers.1.self_attn.adaption_gate'];
    expect(() => fresh.loadStateDict(missing)).toThrow(AdapterFormatError);
    fresh.loadStateDict(saved);
    const logits = logitsOf(fresh, io.input_ids!, io.attention_mask!);
    expect(await maxCloseViolation(logits, io.expected_adapted!, atol, rtol)).toBe(0);
    tf.dispose([logits, ...Object.values(saved), ...Object.values(fileTensors)]);
  });
});
