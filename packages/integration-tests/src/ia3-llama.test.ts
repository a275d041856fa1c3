import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTuner, setWarningHandler } from '@peftjs/core';
import { maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, causalLmLoss, generate } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { ia3 } from '@peftjs/ia3';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(ia3);
  setWarningHandler(() => {});
});

describe('IA3 on LLaMA, equal to Python PEFT (llama-ia3)', () => {
  it('defaults target k_proj, v_proj, down_proj; logits, merged, disabled, greedy ids and data loss match', async () => {
    const json = peftCase('llama-ia3');
    const { atol, rtol } = json;
    const io = await loadFixtureTensors('llama-ia3', 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-ia3', 'base'));
    const peftModel = await fromPretrained(base, peftFixturePath('llama-ia3', 'adapter'));
    expect(new Set((peftModel.peftConfig.default as unknown as { targetModules: string[] }).targetModules)).toEqual(new Set(['k_proj', 'v_proj', 'down_proj']));
    expect(peftModel.targetedModuleNames.filter((path) => path.endsWith('down_proj')).length).toBe(2);

    const adapted = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(adapted, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    const disabled = peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor);
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol), 'disabled').toBe(0);

    const prompt = tf.cast(io.input_ids!, 'int32');
    const ids = await generate(peftModel.model, prompt, { maxNewTokens: json.generation.max_new_tokens, doSample: false, padTokenId: 0, eosTokenId: json.generation.eos_token_id });
    expect(ids).toEqual(await io[json.generation.adapted.tensor]!.array());

    const rows = readFileSync(peftFixturePath('llama-ia3', 'data.jsonl'), 'utf8')
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

    const merged = await peftModel.mergeAndUnload();
    const mergedOutput = merged.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(mergedOutput, io.expected_merged!, atol, rtol), 'merged').toBe(0);
    tf.dispose([adapted, disabled, mergedOutput, prompt, ...inputs, ...Object.values(io)]);
  });
});
