import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ADAPTER_NAME, getPeftModel, registerTuner, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { loadSafetensors } from '@peftjs/hub';
import { lora } from '@peftjs/lora';
import { AutoModelForCausalLM, AutoModelForSequenceClassification, causalLmLoss, generate, saveModel } from '@peftjs/models';
import { peftFixturePath as fixturePath } from '../../../test-fixtures/index';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';

/** Max |diff| per fixture and output, printed at the end (for the report). */
const diffs: Record<string, number> = {};
let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-models-lora-'));
});
afterAll(async () => {
  console.log('max |diff| with LoRA:', diffs);
  await rm(scratch, { recursive: true, force: true });
});

async function adapt(model: LayersModel, caseName: string): Promise<PeftModel> {
  const config = JSON.parse(await readFile(fixturePath(caseName, 'adapter', 'adapter_config.json'), 'utf8'));
  const peft = getPeftModel(model, config);
  const tensors = await loadSafetensors(fixturePath(caseName, 'adapter', 'adapter_model.safetensors'));
  peft.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
  return peft;
}

async function check(name: string, actual: tf.Tensor, expected: tf.Tensor, fixture: PeftCase): Promise<void> {
  diffs[name] = await maxAbsDifference(actual, expected);
  expect(await maxCloseViolation(actual, expected, fixture.json.atol, fixture.json.rtol)).toBe(0);
}

/** The merged model saved here has the keys and (within tolerance) the values of Python's merged/model.safetensors. */
async function checkMergedFile(merged: LayersModel, caseName: string): Promise<void> {
  const dir = join(scratch, caseName);
  await saveModel(merged, dir);
  const ours = await loadSafetensors(join(dir, 'model.safetensors'));
  const theirs = await loadSafetensors(fixturePath(caseName, 'merged', 'model.safetensors'));
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
  let worst = 0;
  for (const key of Object.keys(theirs)) worst = Math.max(worst, await maxAbsDifference(ours[key]!, theirs[key]!));
  diffs[`${caseName} merged/model.safetensors`] = worst;
  expect(worst).toBeLessThan(1e-5);
  tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
}

describe.each(['gpt2-lora', 'llama-lora'])('%s with @peftjs/lora', (caseName) => {
  let fixture: PeftCase;
  beforeAll(async () => {
    fixture = await loadPeftCase(caseName);
  });
  afterAll(() => tf.dispose(Object.values(fixture.io)));

  it('adapted, disabled and merged logits, adapted loss and greedy ids match PEFT', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
    const peft = await adapt(model, caseName);
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!];
    const before = tf.memory().numTensors;

    const adapted = peft.model.predict(inputs) as tf.Tensor;
    await check(`${caseName} adapted`, adapted, fixture.io.expected_adapted!, fixture);
    const disabled = peft.disableAdapter(() => peft.model.predict(inputs) as tf.Tensor);
    await check(`${caseName} disabled`, disabled, fixture.io.expected_disabled!, fixture);
    tf.dispose([adapted, disabled]);

    const expected = fixture.json.expected_loss;
    let weighted = 0;
    for (const row of fixture.rows) {
      const loss = tf.tidy(() => {
        const ids = tf.tensor2d([row], [1, row.length], 'int32');
        return causalLmLoss(ids, peft.model.predict([ids, tf.onesLike(ids)]) as tf.Tensor);
      });
      weighted += (await loss.data())[0]! * (row.length - 1);
      loss.dispose();
    }
    diffs[`${caseName} adapted data.jsonl loss`] = Math.abs(weighted / expected.adapted_predicted_tokens - expected.adapted);
    expect(Math.abs(weighted / expected.adapted_predicted_tokens - expected.adapted)).toBeLessThan(fixture.json.atol + fixture.json.rtol * expected.adapted);

    const generation = fixture.json.generation;
    const options = { maxNewTokens: generation.max_new_tokens, padTokenId: generation.pad_token_id, eosTokenId: generation.eos_token_id };
    const greedyAdapted = (await fixture.io.expected_greedy_adapted!.array()) as number[][];
    const greedyBase = (await fixture.io.expected_greedy_base!.array()) as number[][];
    // EOS comes from the base folder's generation_config.json, also for the rewritten model.
    expect(await generate(peft.model, fixture.io.input_ids!, { maxNewTokens: options.maxNewTokens, padTokenId: options.padTokenId })).toEqual(greedyAdapted);
    // A mixed-adapter batch: row 0 with the adapter, row 1 without.
    const mixed = await generate(peft.model, fixture.io.input_ids!, { ...options, adapterNames: ['default', BASE_ADAPTER_NAME] });
    expect(mixed[0]).toEqual(greedyAdapted[0]);
    expect(mixed[1]!.slice(0, greedyBase[1]!.length)).toEqual(greedyBase[1]!.slice(0, mixed[1]!.length));
    expect(tf.memory().numTensors).toBe(before);

    const merged = await peft.mergeAndUnload();
    const mergedLogits = merged.predict(inputs) as tf.Tensor;
    await check(`${caseName} merged`, mergedLogits, fixture.io.expected_merged!, fixture);
    mergedLogits.dispose();
    expect(await generate(merged, fixture.io.input_ids!, options)).toEqual(greedyAdapted);
    await checkMergedFile(merged, caseName);
    merged.dispose();
  });
});

describe('bert-seqcls-lora with @peftjs/lora (modules_to_save classifier)', () => {
  let fixture: PeftCase;
  beforeAll(async () => {
    fixture = await loadPeftCase('bert-seqcls-lora');
  });
  afterAll(() => tf.dispose(Object.values(fixture.io)));

  it('adapted, disabled and merged class logits match PEFT', async () => {
    const model = await AutoModelForSequenceClassification.fromPretrained(fixture.baseDir);
    const peft = await adapt(model, 'bert-seqcls-lora');
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!, fixture.io.token_type_ids!];
    const before = tf.memory().numTensors;
    const adapted = peft.model.predict(inputs) as tf.Tensor;
    await check('bert-seqcls-lora adapted', adapted, fixture.io.expected_adapted!, fixture);
    const disabled = peft.disableAdapter(() => peft.model.predict(inputs) as tf.Tensor);
    await check('bert-seqcls-lora disabled', disabled, fixture.io.expected_disabled!, fixture);
    tf.dispose([adapted, disabled]);
    expect(tf.memory().numTensors).toBe(before);
    const merged = await peft.mergeAndUnload();
    const mergedLogits = merged.predict(inputs) as tf.Tensor;
    await check('bert-seqcls-lora merged', mergedLogits, fixture.io.expected_merged!, fixture);
    mergedLogits.dispose();
    await checkMergedFile(merged, 'bert-seqcls-lora');
    merged.dispose();
  });
});
