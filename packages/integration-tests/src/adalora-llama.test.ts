import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, getLayerByPath, PeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors, savePretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { AdaLoraDense, adalora } from '@peftjs/adalora';
import { lora } from '@peftjs/lora';

const CASE = 'llama-adalora';
let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  // AdaLoRA saves under LoRA's lora_ prefix, as PEFT does: both register side by side.
  registerTuner(lora);
  registerTuner(adalora);
  setWarningHandler(() => {});
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-adalora-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('AdaLoRA on LLaMA, equal to Python PEFT (llama-adalora)', () => {
  it('pruned triplets, a rank-0 module, logits, disabled, greedy ids and the merged model match', async () => {
    const json = peftCase(CASE);
    const { atol, rtol } = json;
    const io = await loadFixtureTensors(CASE, 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
    const baseLogits = base.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(baseLogits, io.expected_base!, atol, rtol), 'base').toBe(0);
    const peftModel = await fromPretrained(base, peftFixturePath(CASE, 'adapter'));
    expect(peftModel.peftType).toBe('ADALORA');
    expect(peftModel.targetedModuleNames).toHaveLength(6);

    // The saved shapes are the kept triplets, as PEFT writes them (a rank-0 module included).
    const shapes = peftModel.getStateDictShapes();
    expect(shapes).toEqual(json.adapters[0].tensors);
    const layer = getLayerByPath(peftModel.model, 'model.layers.1.self_attn.q_proj') as AdaLoraDense;
    expect(layer.rankMask('default')).toEqual([false, false, false, false, false, false]);
    expect(layer.scaling('default')).toBeCloseTo(8 / (6 + 1e-5), 10);

    const adapted = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(adapted, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    const disabled = peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor);
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol), 'disabled').toBe(0);

    const prompt = tf.cast(io.input_ids!, 'int32');
    const ids = await generate(peftModel.model, prompt, { maxNewTokens: json.generation.max_new_tokens, doSample: false, padTokenId: 0, eosTokenId: json.generation.eos_token_id });
    expect(ids).toEqual(await io[json.generation.adapted.tensor]!.array());

    // Saved again, the files are PEFT's: the same tensors bit for bit and the same config.
    const saved = await loadFixtureTensors(CASE, 'adapter', 'adapter_model.safetensors');
    const ours = peftModel.getStateDict();
    expect(Object.keys(ours).sort()).toEqual(Object.keys(saved).sort());
    for (const key of Object.keys(saved)) expect(await maxCloseViolation(ours[key]!, saved[key]!, 0, 0), key).toBe(0);
    tf.dispose(Object.values(ours));
    await savePretrained(peftModel, join(scratch, 'resaved'));
    const python = JSON.parse(readFileSync(peftFixturePath(CASE, 'adapter', 'adapter_config.json'), 'utf8'));
    const written = JSON.parse(await readFile(join(scratch, 'resaved', 'adapter_config.json'), 'utf8'));
    expect({ ...written, target_modules: new Set(written.target_modules) }).toEqual({ ...python, target_modules: new Set(python.target_modules) });
    const rewritten = await loadSafetensors(join(scratch, 'resaved', 'adapter_model.safetensors'));
    for (const key of Object.keys(saved)) expect(await maxCloseViolation(rewritten[key]!, saved[key]!, 0, 0), key).toBe(0);
    tf.dispose([...Object.values(rewritten), ...Object.values(saved)]);

    const merged = await peftModel.mergeAndUnload();
    const mergedOutput = merged.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(mergedOutput, io.expected_merged!, atol, rtol), 'merged').toBe(0);
    const mergedWeights = await loadFixtureTensors(CASE, 'merged', 'model.safetensors');
    for (const key of json.merged.changed_vs_base as string[]) {
      const path = key.replace(/\.weight$/, '');
      const kernel = getLayerByPath(merged, path)!.getWeights()[0]!;
      expect(await maxCloseViolation(tf.transpose(kernel), mergedWeights[key]!, atol, rtol), key).toBe(0);
    }
    tf.dispose([baseLogits, adapted, disabled, mergedOutput, prompt, ...inputs, ...Object.values(io), ...Object.values(mergedWeights)]);
  });

  it('refuses a file whose tensors do not fit its rank_pattern, naming the tensor and both shapes', async () => {
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
    const config = JSON.parse(readFileSync(peftFixturePath(CASE, 'adapter', 'adapter_config.json'), 'utf8'));
    const tensors = await loadFixtureTensors(CASE, 'adapter', 'adapter_model.safetensors');
    // Keep one more triplet in layer 0's q_proj than the file holds.
    config.rank_pattern['model.layers.0.self_attn.q_proj.lora_E'] = [true, false, true, false, false, true];
    const peftModel = new PeftModel(base, config);
    expect(() => peftModel.loadStateDict(tensors)).toThrow(AdapterFormatError);
    expect(() => peftModel.loadStateDict(tensors)).toThrow(/q_proj\.lora_A.*\[2, 16\].*\[3, 16\]/);
    tf.dispose(Object.values(tensors));
  });
});
