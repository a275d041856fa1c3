import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, ModulesToSaveLayer, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors, savePretrained } from '@peftjs/hub';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, storedWeightOf } from '@peftjs/models';
import { peftFixturePath } from '../../../test-fixtures/index';

// PEFT 0.11.1 wraps GPT-2's tied lm_head in a ModulesToSaveWrapper whose deepcopy has a weight of
// its own: the copy trains, transformer.wte does not, and the adapter file holds the copy as
// base_model.model.lm_head.weight [vocab, n_embd].
const BASE = peftFixturePath('gpt2-lora', 'base');
let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  setWarningHandler(() => {});
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-gpt2-tied-head-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('GPT-2 modules_to_save: ["lm_head"] (a head tied to transformer.wte)', () => {
  it('trains an untied copy of the head, leaves the embedding alone, saves it as lm_head.weight and reloads it', async () => {
    const inputs = [tf.tensor2d([[3, 14, 15, 92, 65, 35]], [1, 6], 'int32'), tf.ones([1, 6], 'int32')];
    const labels = tf.reshape(tf.oneHot(tf.tensor1d([14, 15, 92, 65, 35, 8], 'int32'), 100), [1, 6, 100]);
    const base = await AutoModelForCausalLM.fromPretrained(BASE);
    const baseLogits = base.predict(inputs) as tf.Tensor;
    const peftModel = getPeftModel(base, createLoraConfig({ taskType: 'CAUSAL_LM', r: 4, loraAlpha: 8, targetModules: ['c_attn'], modulesToSave: ['lm_head'] }));
    const embedding = getLayerByPath(peftModel.model, 'transformer.wte')!.getWeights()[0]!.clone();

    const shapes = peftModel.getStateDictShapes();
    expect(shapes['base_model.model.lm_head.weight']).toEqual([100, 32]);
    expect(Object.keys(shapes)).toHaveLength(5);
    // LoRA's 1,024 and the head copy's 100 × 32; the tied original owns nothing.
    const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    expect(variables.reduce((sum, variable) => sum + variable.size, 0)).toBe(1024 + 3200);
    const head = getLayerByPath(peftModel.model, 'lm_head');
    expect(ModulesToSaveLayer.isModulesToSaveLayer(head)).toBe(true);
    // The copy starts as the embedding matrix, so the model computes what the base did.
    const initial = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(initial, baseLogits, 1e-5, 1e-5)).toBe(0);

    const optimizer = tf.train.sgd(0.5);
    const tensorCounts: number[] = [];
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(labels, peftModel.model.apply(inputs, { training: true }) as tf.Tensor) as tf.Scalar,
        variables,
      );
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      tf.dispose([value, ...Object.values(grads)]);
      tensorCounts.push(tf.memory().numTensors);
    }
    // A training step keeps nothing.
    expect(new Set(tensorCounts).size).toBe(1);
    const trained = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxAbsDifference(trained, baseLogits)).toBeGreaterThan(1e-3);
    const copy = tf.transpose((head as ModulesToSaveLayer).module('default').getWeights()[0]!);
    expect(await maxAbsDifference(copy, embedding)).toBeGreaterThan(1e-3);
    // The embedding (and with it the tied original head) did not train.
    expect(await maxAbsDifference(getLayerByPath(peftModel.model, 'transformer.wte')!.getWeights()[0]!, embedding)).toBe(0);
    const disabled = peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor);
    expect(await maxCloseViolation(disabled, baseLogits, 1e-5, 1e-5)).toBe(0);

    const beforeSave = tf.memory().numTensors;
    await savePretrained(peftModel, scratch);
    expect(tf.memory().numTensors).toBe(beforeSave);
    const saved = await loadSafetensors(join(scratch, 'adapter_model.safetensors'));
    expect(saved['base_model.model.lm_head.weight']!.shape).toEqual([100, 32]);
    expect(await maxAbsDifference(saved['base_model.model.lm_head.weight']!, copy)).toBe(0);
    expect(Object.keys(saved).filter((key) => key.includes('wte'))).toEqual([]);

    const reloaded = await fromPretrained(await AutoModelForCausalLM.fromPretrained(BASE), scratch);
    const reloadedLogits = reloaded.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(reloadedLogits, trained, 1e-5, 1e-5)).toBe(0);
    const merged = await reloaded.mergeAndUnload();
    expect(await maxCloseViolation(merged.predict(inputs) as tf.Tensor, trained, 1e-4, 1e-4)).toBe(0);

    tf.dispose([initial, trained, disabled, embedding, copy, reloadedLogits, baseLogits, labels, ...inputs, ...Object.values(saved)]);
  });

  it('copies a store-backed embedding (frozenStore) into a trainable head that matches the base', async () => {
    const inputs = [tf.tensor2d([[3, 14, 15, 92, 65, 35]], [1, 6], 'int32'), tf.ones([1, 6], 'int32')];
    const reference = await AutoModelForCausalLM.fromPretrained(BASE);
    const referenceLogits = reference.predict(inputs) as tf.Tensor;
    const base = await AutoModelForCausalLM.fromPretrained(BASE, { dtype: 'float32', frozenStore: 'arrays' });
    expect(storedWeightOf(getLayerByPath(base, 'transformer.wte')!)).toBeDefined();
    const before = tf.memory().numTensors;
    const peftModel = getPeftModel(base, createLoraConfig({ taskType: 'CAUSAL_LM', targetModules: ['c_attn'], modulesToSave: ['lm_head'] }));
    const head = getLayerByPath(peftModel.model, 'lm_head') as ModulesToSaveLayer;
    // The copy's one kernel is all that was added besides LoRA's A and B on two layers.
    expect(tf.memory().numTensors - before).toBe(1 + 4);
    const copy = head.module('default').trainableWeights;
    expect(copy.map((weight) => weight.shape)).toEqual([[32, 100]]);
    const logits = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(logits, referenceLogits, 1e-5, 1e-5)).toBe(0);
    tf.dispose([logits, referenceLogits, ...inputs]);
    reference.dispose();
    base.dispose();
  });
});
