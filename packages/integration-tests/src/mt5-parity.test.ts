import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ADAPTER_NAME, getPeftModel, namedLayers, registerTuner, TunerLayer } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { AutoModelForSeq2SeqLM, generate, MT5ForConditionalGeneration, saveModel, seq2seqLmLoss, shiftTokensRight } from '@peftjs/models';
import { peftFixturePath as fixturePath } from '../../../test-fixtures/index';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';

/** Max |diff| per output, printed at the end (for the report). */
const diffs: Record<string, number> = {};
let scratch: string;
let fixture: PeftCase;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  registerTuner(ia3);
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-models-mt5-'));
  fixture = await loadPeftCase('mt5-lora-seq2seq');
});
afterAll(async () => {
  console.log('max |diff| (mt5-lora-seq2seq):', diffs);
  tf.dispose(Object.values(fixture.io));
  await rm(scratch, { recursive: true, force: true });
});

async function check(name: string, actual: tf.Tensor, expected: tf.Tensor): Promise<void> {
  diffs[name] = Math.max(diffs[name] ?? 0, await maxAbsDifference(actual, expected));
  expect(await maxCloseViolation(actual, expected, fixture.json.atol, fixture.json.rtol)).toBe(0);
}

/** The data.jsonl loss: each row alone, decoder_input_ids = shift_right(labels), token-weighted over all labels. */
async function datasetLoss(model: LayersModel): Promise<{ loss: number; tokens: number; rowLosses: number[] }> {
  let weighted = 0;
  let tokens = 0;
  const rowLosses: number[] = [];
  for (const [index, row] of fixture.rows.entries()) {
    const labelsRow = fixture.labelRows[index]!;
    const loss = tf.tidy(() => {
      const ids = tf.tensor2d([row], [1, row.length], 'int32');
      const labels = tf.tensor2d([labelsRow], [1, labelsRow.length], 'int32');
      const logits = model.predict([ids, tf.onesLike(ids), shiftTokensRight(labels, 0, 0)]) as tf.Tensor;
      return seq2seqLmLoss(labels, logits);
    });
    const value = (await loss.data())[0]!;
    loss.dispose();
    rowLosses.push(value);
    weighted += value * labelsRow.length;
    tokens += labelsRow.length;
  }
  return { loss: weighted / tokens, tokens, rowLosses };
}

const generationOptions = () => ({
  attentionMask: fixture.io.attention_mask!,
  maxNewTokens: fixture.json.generation.max_new_tokens,
  padTokenId: fixture.json.generation.pad_token_id,
});

describe.each(['cpu', 'wasm'])('mt5-lora-seq2seq base on %s', (backend) => {
  it('decoder logits, data.jsonl loss and greedy decoder ids (cached and not) match transformers', async () => {
    await tf.setBackend(backend);
    const model = await MT5ForConditionalGeneration.fromPretrained(fixture.baseDir);
    await generate(model, fixture.io.input_ids!, generationOptions()); // derives the cached graphs
    const before = tf.memory().numTensors;
    const logits = model.predict([fixture.io.input_ids!, fixture.io.attention_mask!, fixture.io.decoder_input_ids!]) as tf.Tensor;
    expect(logits.shape).toEqual([2, 6, 128]);
    await check(`base ${backend}`, logits, fixture.io.expected_base!);
    logits.dispose();

    const expected = fixture.json.expected_loss;
    const { loss, tokens, rowLosses } = await datasetLoss(model);
    expect(tokens).toBe(expected.base_predicted_tokens);
    rowLosses.forEach((value, index) =>
      expect(Math.abs(value - expected.base_row_losses[index])).toBeLessThan(fixture.json.atol + fixture.json.rtol * expected.base_row_losses[index]),
    );
    diffs[`base data.jsonl loss ${backend}`] = Math.abs(loss - expected.base);
    expect(Math.abs(loss - expected.base)).toBeLessThan(fixture.json.atol + fixture.json.rtol * expected.base);

    const greedy = await fixture.io.expected_greedy_base!.array();
    expect(await generate(model, fixture.io.input_ids!, generationOptions())).toEqual(greedy);
    expect(await generate(model, fixture.io.input_ids!, { ...generationOptions(), useCache: false })).toEqual(greedy);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('mt5-lora-seq2seq with @peftjs/lora', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('adapted (self- and cross-attention q, v), disabled, merged logits; labels loss; data.jsonl loss; greedy ids; merged file', async () => {
    const model = await AutoModelForSeq2SeqLM.fromPretrained(fixture.baseDir);
    const peft = await fromPretrained(model, fixturePath('mt5-lora-seq2seq', 'adapter'));
    const targeted = namedLayers(peft.model)
      .filter((entry) => TunerLayer.isTunerLayer(entry.layer))
      .map((entry) => entry.path);
    expect(targeted).toHaveLength(12);
    expect(targeted).toContain('decoder.block.1.layer.1.EncDecAttention.v');
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!, fixture.io.decoder_input_ids!];
    await generate(peft.model, fixture.io.input_ids!, generationOptions());
    const before = tf.memory().numTensors;

    const adapted = peft.model.predict(inputs) as tf.Tensor;
    await check('adapted', adapted, fixture.io.expected_adapted!);
    const labelsLoss = tf.tidy(() => tf.reshape(seq2seqLmLoss(fixture.io.labels!, adapted), [1]));
    await check('adapted loss with labels (-100 ignored)', labelsLoss, fixture.io.expected_loss!);
    const disabled = peft.disableAdapter(() => peft.model.predict(inputs) as tf.Tensor);
    await check('disabled', disabled, fixture.io.expected_disabled!);
    tf.dispose([adapted, disabled, labelsLoss]);

    const expected = fixture.json.expected_loss;
    const { loss } = await datasetLoss(peft.model);
    diffs['adapted data.jsonl loss'] = Math.abs(loss - expected.adapted);
    expect(Math.abs(loss - expected.adapted)).toBeLessThan(fixture.json.atol + fixture.json.rtol * expected.adapted);

    const greedyAdapted = (await fixture.io.expected_greedy_adapted!.array()) as number[][];
    const greedyBase = (await fixture.io.expected_greedy_base!.array()) as number[][];
    expect(await generate(peft.model, fixture.io.input_ids!, generationOptions())).toEqual(greedyAdapted);
    expect(await generate(peft.model, fixture.io.input_ids!, { ...generationOptions(), useCache: false })).toEqual(greedyAdapted);
    expect(await generate(peft.model, fixture.io.input_ids!, { ...generationOptions(), adapterNames: [BASE_ADAPTER_NAME, 'default'] })).toEqual([greedyBase[0], greedyAdapted[1]]);
    expect(tf.memory().numTensors).toBe(before);

    // What a save writes is the file Python wrote: same keys, shapes and values (so Python reloads it as it was).
    const saved = peft.getStateDict();
    const file = await loadSafetensors(fixturePath('mt5-lora-seq2seq', 'adapter', 'adapter_model.safetensors'));
    expect(Object.keys(saved).sort()).toEqual(Object.keys(file).sort());
    for (const key of Object.keys(file)) expect(await maxAbsDifference(saved[key]!, file[key]!), key).toBe(0);
    tf.dispose([...Object.values(saved), ...Object.values(file)]);

    const merged = await peft.mergeAndUnload();
    const mergedLogits = merged.predict(inputs) as tf.Tensor;
    await check('merged', mergedLogits, fixture.io.expected_merged!);
    mergedLogits.dispose();
    expect(await generate(merged, fixture.io.input_ids!, generationOptions())).toEqual(greedyAdapted);
    await saveModel(merged, join(scratch, 'merged'));
    const ours = await loadSafetensors(join(scratch, 'merged', 'model.safetensors'));
    const theirs = await loadSafetensors(fixturePath('mt5-lora-seq2seq', 'merged', 'model.safetensors'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    let worst = 0;
    for (const key of Object.keys(theirs)) worst = Math.max(worst, await maxAbsDifference(ours[key]!, theirs[key]!));
    diffs['merged/model.safetensors'] = worst;
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
    merged.dispose();
  });

  it("default targets: LoRA q, v (self- and cross-attention); IA3 k, v, wi_1 without feed-forward; 'all-linear' all but lm_head", async () => {
    const model = await AutoModelForSeq2SeqLM.fromPretrained(fixture.baseDir);
    const leaves = (peftType: string, extra: Record<string, unknown> = {}) => {
      const peft = getPeftModel(model, { peft_type: peftType, task_type: 'SEQ_2_SEQ_LM', ...extra });
      const paths = namedLayers(peft.model)
        .filter((entry) => TunerLayer.isTunerLayer(entry.layer))
        .map((entry) => entry.path);
      peft.unload();
      return { paths, leaves: [...new Set(paths.map((path) => path.split('.').pop()))].sort() };
    };
    const loraTargets = leaves('LORA');
    expect(loraTargets.leaves).toEqual(['q', 'v']);
    expect(loraTargets.paths).toHaveLength(12);
    const ia3Targets = leaves('IA3');
    expect(ia3Targets.leaves).toEqual(['k', 'v', 'wi_1']);
    const allLinear = leaves('LORA', { target_modules: 'all-linear' });
    // Encoder: 4 attention + 3 FFN per block; decoder: 8 attention + 3 FFN per block.
    expect(allLinear.paths).toHaveLength(2 * 7 + 2 * 11);
    expect(allLinear.paths).not.toContain('lm_head');
    model.dispose();
  });
});
