import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ADAPTER_NAME, getPeftModel, namedLayers, registerTuner, TunerLayer, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmLoss, generate, saveModel } from '@peftjs/models';
import { peftFixturePath as fixturePath } from '../../../test-fixtures/index';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';

/** Max |diff| per fixture and output, printed at the end (for the report). */
const diffs: Record<string, number> = {};
let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  registerTuner(ia3);
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-models-opt-bloom-'));
});
afterAll(async () => {
  console.log('max |diff| (OPT, BLOOM):', diffs);
  await rm(scratch, { recursive: true, force: true });
});

async function check(name: string, actual: tf.Tensor, expected: tf.Tensor, fixture: PeftCase): Promise<void> {
  diffs[name] = await maxAbsDifference(actual, expected);
  expect(await maxCloseViolation(actual, expected, fixture.json.atol, fixture.json.rtol)).toBe(0);
}

/** The token-weighted data.jsonl loss (labels = input_ids, shifted inside), as the fixtures compute it. */
async function datasetLoss(model: LayersModel, rows: number[][]): Promise<{ loss: number; tokens: number }> {
  let weighted = 0;
  let tokens = 0;
  for (const row of rows) {
    const loss = tf.tidy(() => {
      const ids = tf.tensor2d([row], [1, row.length], 'int32');
      return causalLmLoss(ids, model.predict([ids, tf.onesLike(ids)]) as tf.Tensor);
    });
    weighted += (await loss.data())[0]! * (row.length - 1);
    tokens += row.length - 1;
    loss.dispose();
  }
  return { loss: weighted / tokens, tokens };
}

describe.each(['opt-lora', 'bloom-lora', 'opt-ia3'])('%s', (caseName) => {
  let fixture: PeftCase;
  beforeAll(async () => {
    fixture = await loadPeftCase(caseName);
  });
  afterAll(() => tf.dispose(Object.values(fixture.io)));

  it('adapted (hub fromPretrained), disabled and merged logits, adapted loss, greedy ids and merged/model.safetensors match PEFT', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
    const peft: PeftModel = await fromPretrained(model, fixturePath(caseName, 'adapter'));
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!];
    const generation = fixture.json.generation;
    const options = { maxNewTokens: generation.max_new_tokens, padTokenId: generation.pad_token_id };
    const greedyAdapted = (await fixture.io.expected_greedy_adapted!.array()) as number[][];
    const greedyBase = (await fixture.io.expected_greedy_base!.array()) as number[][];
    await generate(peft.model, fixture.io.input_ids!, options);
    const before = tf.memory().numTensors;

    const adapted = peft.model.predict(inputs) as tf.Tensor;
    await check(`${caseName} adapted`, adapted, fixture.io.expected_adapted!, fixture);
    const disabled = peft.disableAdapter(() => peft.model.predict(inputs) as tf.Tensor);
    await check(`${caseName} disabled`, disabled, fixture.io.expected_disabled!, fixture);
    tf.dispose([adapted, disabled]);

    const expected = fixture.json.expected_loss;
    const { loss, tokens } = await datasetLoss(peft.model, fixture.rows);
    expect(tokens).toBe(expected.adapted_predicted_tokens);
    diffs[`${caseName} adapted data.jsonl loss`] = Math.abs(loss - expected.adapted);
    expect(Math.abs(loss - expected.adapted)).toBeLessThan(fixture.json.atol + fixture.json.rtol * expected.adapted);

    expect(await generate(peft.model, fixture.io.input_ids!, options)).toEqual(greedyAdapted);
    const mixed = await generate(peft.model, fixture.io.input_ids!, { ...options, adapterNames: ['default', BASE_ADAPTER_NAME] });
    expect(mixed).toEqual([greedyAdapted[0], greedyBase[1]]);
    expect(tf.memory().numTensors).toBe(before);

    // What a save writes is the file Python wrote: same keys, shapes and values (so Python reloads it as it was).
    const saved = peft.getStateDict();
    const file = await loadSafetensors(fixturePath(caseName, 'adapter', 'adapter_model.safetensors'));
    expect(Object.keys(saved).sort()).toEqual(Object.keys(file).sort());
    for (const key of Object.keys(file)) expect(await maxAbsDifference(saved[key]!, file[key]!), key).toBe(0);
    tf.dispose([...Object.values(saved), ...Object.values(file)]);

    const merged = await peft.mergeAndUnload();
    const mergedLogits = merged.predict(inputs) as tf.Tensor;
    await check(`${caseName} merged`, mergedLogits, fixture.io.expected_merged!, fixture);
    mergedLogits.dispose();
    expect(await generate(merged, fixture.io.input_ids!, options)).toEqual(greedyAdapted);

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
    merged.dispose();
  });
});

function adapterPaths(peft: PeftModel): string[] {
  return namedLayers(peft.model)
    .filter((entry) => TunerLayer.isTunerLayer(entry.layer))
    .map((entry) => entry.path);
}

describe('default targets and all-linear', () => {
  it.each([
    ['opt-lora', 'LORA', ['q_proj', 'v_proj']],
    ['bloom-lora', 'LORA', ['query_key_value']],
    ['opt-lora', 'IA3', ['q_proj', 'k_proj', 'fc2']],
    ['bloom-lora', 'IA3', ['query_key_value', 'dense_4h_to_h']],
  ] as const)('%s %s defaults target %j', async (caseName, peftType, leaves) => {
    const model = await AutoModelForCausalLM.fromPretrained(fixturePath(caseName, 'base'));
    const peft = getPeftModel(model, { peft_type: peftType, task_type: 'CAUSAL_LM' });
    const targeted = [...new Set(adapterPaths(peft).map((path) => path.split('.').pop()))].sort();
    expect(targeted).toEqual([...leaves].sort());
    peft.unload();
    model.dispose();
  });

  it.each(['opt-lora', 'bloom-lora'])("%s: 'all-linear' wraps every projection but lm_head", async (caseName) => {
    const model = await AutoModelForCausalLM.fromPretrained(fixturePath(caseName, 'base'));
    const peft = getPeftModel(model, { peft_type: 'LORA', r: 2, target_modules: 'all-linear' });
    const paths = adapterPaths(peft);
    expect(paths).not.toContain('lm_head');
    expect(paths).toHaveLength(caseName === 'opt-lora' ? 12 : 8);
    peft.unload();
    model.dispose();
  });
});
