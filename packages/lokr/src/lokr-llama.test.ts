import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, causalLmLoss, generate } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { factorization, lokr, LokrDense } from './index';

const CASE = 'llama-lokr';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lokr);
  setWarningHandler(() => {});
});

describe('factorization, as LyCORIS in PEFT 0.11.1', () => {
  it('splits dimensions the way PEFT does', () => {
    expect(factorization(32)).toEqual([4, 8]);
    expect(factorization(16)).toEqual([4, 4]);
    expect(factorization(24, 8)).toEqual([8, 3]);
    expect(factorization(2, 8)).toEqual([1, 2]);
    expect(factorization(20)).toEqual([4, 5]);
    expect(factorization(7)).toEqual([1, 7]);
    expect(factorization(64, 4)).toEqual([4, 16]);
    expect(factorization(36, 5)).toEqual([4, 9]);
  });
});

describe('LoKr on LLaMA, equal to Python PEFT 0.11.1 (llama-lokr)', () => {
  it('reads and writes adapter_config.json with exactly PEFT keys', () => {
    const python = JSON.parse(readFileSync(peftFixturePath(CASE, 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = lokr.serializeConfig(lokr.parseConfig(python));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
    expect({ ...ours, target_modules: new Set(ours.target_modules as string[]) }).toEqual({ ...python, target_modules: new Set(python.target_modules) });
  });

  it('logits, disabled, saved tensors, greedy ids, data loss and merged weights match; alpha has no effect', async () => {
    const json = peftCase(CASE);
    const { atol, rtol } = json;
    const io = await loadFixtureTensors(CASE, 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
    const peftModel = await fromPretrained(base, peftFixturePath(CASE, 'adapter'));
    expect(peftModel.targetedModuleNames).toHaveLength(4);
    // q_proj: full lokr_w1 [4, 4] and low-rank w2 [8, 2]·[2, 8]; v_proj (rank_pattern r=4): full lokr_w2 [4, 8].
    const shapes = peftModel.getStateDictShapes();
    expect(shapes['base_model.model.model.layers.0.self_attn.q_proj.lokr_w2_a']).toEqual([8, 2]);
    expect(shapes['base_model.model.model.layers.0.self_attn.v_proj.lokr_w2']).toEqual([4, 8]);

    const adapted = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(adapted, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    const disabled = peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor);
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol), 'disabled').toBe(0);

    const saved = await loadFixtureTensors(CASE, 'adapter', 'adapter_model.safetensors');
    const stateDict = peftModel.getStateDict();
    expect(Object.keys(stateDict).sort()).toEqual(Object.keys(saved).sort());
    for (const [key, value] of Object.entries(saved)) expect(await maxAbsDifference(stateDict[key]!, value), key).toBe(0);

    // PEFT 0.11.1 computes α / r for LoKr and never applies it.
    const q = getLayerByPath(peftModel.model, 'model.layers.0.self_attn.q_proj') as LokrDense;
    const options = (q as unknown as { adapterOptions: Map<string, { alpha: number }> }).adapterOptions;
    options.set('default', { ...options.get('default')!, alpha: 40 });
    const otherAlpha = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxAbsDifference(otherAlpha, adapted)).toBe(0);

    const ids = await generate(peftModel.model, tf.cast(io.input_ids!, 'int32'), {
      maxNewTokens: json.generation.max_new_tokens,
      doSample: false,
      padTokenId: 0,
      eosTokenId: json.generation.eos_token_id,
    });
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

    const merged = await peftModel.mergeAndUnload();
    const mergedOutput = merged.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(mergedOutput, io.expected_merged!, atol, rtol), 'merged').toBe(0);
    const reference = await loadFixtureTensors(CASE, 'merged', 'model.safetensors');
    const q0 = getLayerByPath(merged, 'model.layers.0.self_attn.q_proj')!;
    const ours = tf.transpose(q0.getWeights()[0]!);
    expect(await maxAbsDifference(ours, reference['model.layers.0.self_attn.q_proj.weight']!)).toBeLessThan(1e-6);
    tf.dispose([
      adapted,
      disabled,
      otherAlpha,
      mergedOutput,
      ours,
      ...inputs,
      ...Object.values(io),
      ...Object.values(saved),
      ...Object.values(stateDict),
      ...Object.values(reference),
    ]);
  });
});

describe('LoKr factor shapes', () => {
  it('decompose_both splits w1 when r < max(a, c) / 2, as PEFT', async () => {
    const tfl = await import('@tensorflow/tfjs-layers');
    const x = tfl.input({ shape: [16] });
    const model = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 32, name: 'up' }).apply(x) as import('@tensorflow/tfjs-layers').SymbolicTensor });
    const { getPeftModel } = await import('@peftjs/core');
    const peftModel = getPeftModel(model, { peft_type: 'LOKR', r: 1, target_modules: ['up'], decompose_both: true });
    // out 32 = 4·8, in 16 = 4·4: w1 = [4, 1]·[1, 4], w2 = [8, 1]·[1, 4].
    expect(peftModel.getStateDictShapes()).toEqual({
      'base_model.model.up.lokr_w1_a': [4, 1],
      'base_model.model.up.lokr_w1_b': [1, 4],
      'base_model.model.up.lokr_w2_a': [8, 1],
      'base_model.model.up.lokr_w2_b': [1, 4],
    });
    const conv = tfl.sequential({ layers: [tfl.layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [5, 5, 6], name: 'conv' })] });
    const effective = getPeftModel(conv, { peft_type: 'LOKR', r: 1, target_modules: ['conv'], use_effective_conv2d: true, decompose_factor: 2 });
    // out 8 = 2·4, in 6 = 2·3 (factor 2): w1 [2, 2]; w2 by the Tucker form: t2 [1, 1, 3, 3], w2_a [1, 4], w2_b [1, 3].
    expect(effective.getStateDictShapes()).toEqual({
      'base_model.model.conv.lokr_w1': [2, 2],
      'base_model.model.conv.lokr_t2': [1, 1, 3, 3],
      'base_model.model.conv.lokr_w2_a': [1, 4],
      'base_model.model.conv.lokr_w2_b': [1, 3],
    });
    for (const weight of [...model.weights, ...conv.weights, ...peftModel.model.trainableWeights, ...effective.model.trainableWeights])
      if (!weight.read().isDisposed) weight.dispose();
  });
});
