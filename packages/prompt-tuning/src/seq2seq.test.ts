import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForSeq2SeqLM, generate as generateIds, seq2seqLmLoss, shiftTokensRight } from '@peftjs/models';
import { peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureCase, type FixtureCase } from './__fixtures__/fixture-case';
import { pTuning, prefixTuning, promptTuning } from './index';

const CASE = 'mt5-prompt-tuning-seq2seq';
let fixture: FixtureCase;
const diffs: Record<string, number> = {};

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(promptTuning);
  registerTuner(pTuning);
  registerTuner(prefixTuning);
  setWarningHandler(() => {});
  fixture = await loadFixtureCase(CASE);
});
afterAll(() => {
  console.log(`seq2seq prompt tuning (${CASE}), max |diff|: ${JSON.stringify(diffs)}`);
  tf.dispose(Object.values(fixture.io));
});

async function load(): Promise<PeftModel> {
  return fromPretrained(await AutoModelForSeq2SeqLM.fromPretrained(fixture.baseDir), fixture.adapterDir);
}

describe(`${CASE} parity with Python PEFT 0.11.1`, () => {
  it('prepends prompt rows 0..3 to the encoder input only: adapted and disabled decoder logits, the labels loss', async () => {
    const peft = await load();
    const { atol, rtol } = fixture.json;
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!, fixture.io.decoder_input_ids!];
    const before = tf.memory().numTensors;
    const logits = peft.model.predict(inputs) as tf.Tensor;
    expect(logits.shape).toEqual([2, 6, 128]);
    expect(await maxCloseViolation(logits, fixture.io.expected_adapted!, atol, rtol)).toBe(0);
    diffs.adapted = await maxAbsDifference(logits, fixture.io.expected_adapted!);
    const loss = tf.tidy(() => tf.reshape(seq2seqLmLoss(fixture.io.labels!, logits), [1]));
    expect(await maxCloseViolation(loss, fixture.io.expected_loss!, atol, rtol)).toBe(0);
    const disabled = peft.disableAdapter(() => peft.model.predict(inputs) as tf.Tensor);
    expect(await maxCloseViolation(disabled, fixture.io.expected_disabled!, atol, rtol)).toBe(0);
    tf.dispose([logits, loss, disabled]);
    expect(tf.memory().numTensors).toBe(before);
    peft.baseModel.dispose();
  });

  it('the data.jsonl loss (labels unchanged, decoder_input_ids = shift_right(labels)) and the greedy decoder ids', async () => {
    const peft = await load();
    const labelRows = readFileSync(peftFixturePath(CASE, 'data.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line).labels as number[]);
    const generation = fixture.json.generation;
    const options = { attentionMask: fixture.io.attention_mask!, maxNewTokens: generation.max_new_tokens, padTokenId: generation.pad_token_id };
    await generateIds(peft, fixture.io.input_ids!, options);
    const before = tf.memory().numTensors;
    let weighted = 0;
    let tokens = 0;
    for (const [index, row] of fixture.rows.entries()) {
      const labels = labelRows[index]!;
      const loss = tf.tidy(() => {
        const ids = tf.tensor2d([row], [1, row.length], 'int32');
        const target = tf.tensor2d([labels], [1, labels.length], 'int32');
        return seq2seqLmLoss(target, peft.model.predict([ids, tf.onesLike(ids), shiftTokensRight(target, 0, 0)]) as tf.Tensor);
      });
      weighted += (await loss.data())[0]! * labels.length;
      tokens += labels.length;
      loss.dispose();
    }
    const expected = fixture.json.expected_loss;
    expect(tokens).toBe(expected.adapted_predicted_tokens);
    diffs['data.jsonl loss'] = Math.abs(weighted / tokens - expected.adapted);
    expect(Math.abs(weighted / tokens - expected.adapted)).toBeLessThan(fixture.json.atol + fixture.json.rtol * expected.adapted);

    const greedy = await fixture.io.expected_greedy_adapted!.array();
    expect(await generateIds(peft, fixture.io.input_ids!, options)).toEqual(greedy);
    expect(await generateIds(peft.model, fixture.io.input_ids!, { ...options, useCache: false })).toEqual(greedy);
    expect(await peft.disableAdapter(() => generateIds(peft.model, fixture.io.input_ids!, options))).toEqual(await fixture.io.expected_greedy_base!.array());
    expect(tf.memory().numTensors).toBe(before);
    peft.baseModel.dispose();
  });

  it('saves the [2 × 4, 32] prompt_embeddings it loaded (rows 4..7 kept, never read) and the config keys', async () => {
    const peft = await load();
    const saved = peft.getStateDict();
    const file = await loadSafetensors(peftFixturePath(CASE, 'adapter', 'adapter_model.safetensors'));
    expect(Object.keys(saved)).toEqual(['prompt_embeddings']);
    expect(saved.prompt_embeddings!.shape).toEqual([8, 32]);
    expect(await maxAbsDifference(saved.prompt_embeddings!, file.prompt_embeddings!)).toBe(0);
    const config = peft.peftConfig.default as unknown as { numTransformerSubmodules: number; numLayers: number; tokenDim: number; numAttentionHeads: number };
    expect(config).toMatchObject({ numTransformerSubmodules: 2, numLayers: 2, tokenDim: 32, numAttentionHeads: 4 });
    tf.dispose([...Object.values(saved), ...Object.values(file)]);
    peft.baseModel.dispose();
  });

  it('a fresh SEQ_2_SEQ_LM prompt (prompt tuning, P-tuning) trains only its own rows and leaves the decoder and labels alone', async () => {
    for (const peftType of ['PROMPT_TUNING', 'P_TUNING']) {
      const base = await AutoModelForSeq2SeqLM.fromPretrained(fixture.baseDir);
      const peft = getPeftModel(base, { peft_type: peftType, task_type: 'SEQ_2_SEQ_LM', num_virtual_tokens: 3, ...(peftType === 'P_TUNING' ? { encoder_hidden_size: 16 } : {}) });
      const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!, fixture.io.decoder_input_ids!];
      const lossOf = () => tf.tidy(() => seq2seqLmLoss(fixture.io.labels!, peft.model.predict(inputs) as tf.Tensor).dataSync()[0]!);
      const first = lossOf();
      const frozen = base.getWeights().map((weight) => weight.clone());
      const optimizer = tf.train.adam(0.05);
      for (let step = 0; step < 3; step++) {
        optimizer.minimize(() => seq2seqLmLoss(fixture.io.labels!, peft.model.apply(inputs, { training: true }) as tf.Tensor));
      }
      expect(lossOf()).toBeLessThan(first);
      const moved = await Promise.all(base.getWeights().map((weight, index) => maxAbsDifference(weight, frozen[index]!)));
      expect(Math.max(...moved)).toBe(0);
      tf.dispose(frozen);
      const state = peft.getStateDict();
      expect(state.prompt_embeddings!.shape).toEqual([6, 32]);
      tf.dispose(Object.values(state));
      optimizer.dispose();
      base.dispose();
    }
  });

  it('prefix tuning on an encoder-decoder is refused with a clear error (not in this package)', async () => {
    const base = await AutoModelForSeq2SeqLM.fromPretrained(fixture.baseDir);
    expect(() => getPeftModel(base, { peft_type: 'PREFIX_TUNING', task_type: 'SEQ_2_SEQ_LM', num_virtual_tokens: 3 })).toThrow(
      /num_transformer_submodules 2 is for encoder-decoder models/,
    );
    base.dispose();
  });
});
