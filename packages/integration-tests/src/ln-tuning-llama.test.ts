import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, causalLmLoss, generate } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { lnTuning, LNTuningLayer } from '@peftjs/ln-tuning';

const CASE = 'llama-ln-tuning';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lnTuning);
  setWarningHandler(() => {});
});

describe('LN tuning on LLaMA, equal to Python PEFT (llama-ln-tuning)', () => {
  it('replaces 5 RMSNorms; logits, disabled, greedy ids, data loss, saved tensors and the merged model match', async () => {
    const json = peftCase(CASE);
    const { atol, rtol } = json;
    const io = await loadFixtureTensors(CASE, 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
    const peftModel = await fromPretrained(base, peftFixturePath(CASE, 'adapter'));
    expect(peftModel.targetedModuleNames.sort()).toEqual([
      'model.layers.0.input_layernorm',
      'model.layers.0.post_attention_layernorm',
      'model.layers.1.input_layernorm',
      'model.layers.1.post_attention_layernorm',
      'model.norm',
    ]);
    expect(peftModel.getStateDictShapes()).toEqual(json.adapters[0].tensors);
    const saved = await loadFixtureTensors(CASE, 'adapter', 'adapter_model.safetensors');
    const ours = peftModel.getStateDict();
    for (const key of Object.keys(saved)) expect(await maxCloseViolation(ours[key]!, saved[key]!, 0, 0), key).toBe(0);
    tf.dispose(Object.values(ours));

    const adapted = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(adapted, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    const disabled = peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor);
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol), 'disabled').toBe(0);

    const prompt = tf.cast(io.input_ids!, 'int32');
    const ids = await generate(peftModel.model, prompt, { maxNewTokens: json.generation.max_new_tokens, doSample: false, padTokenId: 0, eosTokenId: json.generation.eos_token_id });
    expect(ids).toEqual(await io[json.generation.adapted.tensor]!.array());

    const rows = readFileSync(peftFixturePath(CASE, 'data.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).input_ids as number[]);
    let weighted = 0;
    let tokens = 0;
    for (const row of rows) {
      const loss = tf.tidy(() => {
        const rowIds = tf.tensor2d([row], [1, row.length], 'int32');
        return causalLmLoss(rowIds, peftModel.model.predict([rowIds, tf.onesLike(rowIds)]) as tf.Tensor);
      });
      weighted += (await loss.data())[0]! * (row.length - 1);
      tokens += row.length - 1;
      loss.dispose();
    }
    expect(Math.abs(weighted / tokens - json.expected_loss.adapted)).toBeLessThanOrEqual(atol + rtol * json.expected_loss.adapted);

    // Merging swaps the copies in; unmerging swaps them back.
    await peftModel.mergeAdapter();
    const mergedInPlace = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(mergedInPlace, io.expected_merged!, atol, rtol), 'merged in place').toBe(0);
    peftModel.unmergeAdapter();
    const unmerged = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(unmerged, io.expected_adapted!, atol, rtol), 'unmerged').toBe(0);

    const merged = await peftModel.mergeAndUnload();
    const mergedOutput = merged.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(mergedOutput, io.expected_merged!, atol, rtol), 'merged').toBe(0);
    const mergedWeights = await loadFixtureTensors(CASE, 'merged', 'model.safetensors');
    for (const key of json.merged.changed_vs_base as string[]) {
      const weight = getLayerByPath(merged, key.replace(/\.weight$/, ''))!.getWeights()[0]!;
      expect(await maxCloseViolation(weight, mergedWeights[key]!, 0, 0), key).toBe(0);
    }
    tf.dispose([adapted, disabled, mergedInPlace, unmerged, mergedOutput, prompt, ...inputs, ...Object.values(io), ...Object.values(saved), ...Object.values(mergedWeights)]);
  });

  it('allows one active adapter at a time and merges one at a time, as PEFT', async () => {
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
    const peftModel = getPeftModel(base, { peft_type: 'LN_TUNING' });
    peftModel.addAdapter('other', { peft_type: 'LN_TUNING' });
    peftModel.setAdapter(['default', 'other']);
    const inputs = [tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), tf.ones([1, 3], 'int32')];
    expect(() => peftModel.model.predict(inputs)).toThrow(/more than one adapter at a time/);
    await expect(peftModel.mergeAdapter(['default', 'other'])).rejects.toThrow(/more than one adapter at a time/);
    const layer = getLayerByPath(peftModel.model, 'model.norm') as LNTuningLayer;
    expect(layer.copyOf('other')).not.toBe(layer.copyOf('default'));
    tf.dispose(inputs);
  });
});
