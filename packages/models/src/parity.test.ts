import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { AutoModelForCausalLM, AutoModelForSequenceClassification, causalLmLoss, generate } from './index';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';

/** Max |diff| per fixture and backend, printed at the end (for the report). */
const diffs: Record<string, number> = {};

describe.each(['cpu', 'wasm'])('fixture parity on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  describe.each(['gpt2-lora', 'llama-lora', 'opt-lora', 'bloom-lora'])('%s', (caseName) => {
    let fixture: PeftCase;
    beforeAll(async () => {
      fixture = await loadPeftCase(caseName);
    });
    afterAll(() => tf.dispose(Object.values(fixture.io)));

    it('base logits match transformers (right-padded batch)', async () => {
      const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
      const before = tf.memory().numTensors;
      const logits = model.predict([fixture.io.input_ids!, fixture.io.attention_mask!]) as tf.Tensor;
      const { atol, rtol } = fixture.json;
      expect(await maxCloseViolation(logits, fixture.io.expected_base!, atol, rtol)).toBe(0);
      diffs[`${caseName} ${backend}`] = await maxAbsDifference(logits, fixture.io.expected_base!);
      logits.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });

    it('data.jsonl loss equals transformers (labels = input_ids, shifted)', async () => {
      const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
      const before = tf.memory().numTensors;
      const expected = fixture.json.expected_loss;
      let weighted = 0;
      let tokens = 0;
      for (const [index, row] of fixture.rows.entries()) {
        const loss = tf.tidy(() => {
          const ids = tf.tensor2d([row], [1, row.length], 'int32');
          const logits = model.predict([ids, tf.onesLike(ids)]) as tf.Tensor;
          return causalLmLoss(ids, logits);
        });
        const value = (await loss.data())[0]!;
        loss.dispose();
        expect(Math.abs(value - expected.base_row_losses[index])).toBeLessThanOrEqual(fixture.json.atol + fixture.json.rtol * Math.abs(expected.base_row_losses[index]));
        weighted += value * (row.length - 1);
        tokens += row.length - 1;
      }
      expect(tokens).toBe(expected.base_predicted_tokens);
      expect(Math.abs(weighted / tokens - expected.base)).toBeLessThanOrEqual(fixture.json.atol + fixture.json.rtol * expected.base);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });

    it('greedy generation equals expected_greedy_base (KV cache, and without it)', async () => {
      const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
      const expected = await fixture.io.expected_greedy_base!.array();
      const generation = fixture.json.generation;
      const options = { maxNewTokens: generation.max_new_tokens, padTokenId: generation.pad_token_id, eosTokenId: generation.eos_token_id };
      await generate(model, fixture.io.input_ids!, options); // warm-up builds the cached graph
      const before = tf.memory().numTensors;
      expect(await generate(model, fixture.io.input_ids!, options)).toEqual(expected);
      expect(await generate(model, fixture.io.input_ids!, { ...options, useCache: false })).toEqual(expected);
      // EOS from generation_config.json (llama-lora's row 1 stops at EOS 2 and is padded).
      expect(await generate(model, fixture.io.input_ids!, { maxNewTokens: options.maxNewTokens, padTokenId: options.padTokenId })).toEqual(expected);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  });

  describe('bert-seqcls-lora', () => {
    let fixture: PeftCase;
    beforeAll(async () => {
      fixture = await loadPeftCase('bert-seqcls-lora');
    });
    afterAll(() => tf.dispose(Object.values(fixture.io)));

    it('base class logits match transformers (token types, padding mask)', async () => {
      const model = await AutoModelForSequenceClassification.fromPretrained(fixture.baseDir);
      const before = tf.memory().numTensors;
      const logits = model.predict([fixture.io.input_ids!, fixture.io.attention_mask!, fixture.io.token_type_ids!]) as tf.Tensor;
      expect(await maxCloseViolation(logits, fixture.io.expected_base!, fixture.json.atol, fixture.json.rtol)).toBe(0);
      diffs[`bert-seqcls-lora ${backend}`] = await maxAbsDifference(logits, fixture.io.expected_base!);
      logits.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  });
});

afterAll(() => {
  console.log('max |diff| vs expected_base:', diffs);
});
