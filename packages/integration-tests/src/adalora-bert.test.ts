import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, savePretrained } from '@peftjs/hub';
import { AutoModelForSequenceClassification } from '@peftjs/models';
import { peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { adalora, createAdaloraConfig, disposeRankAllocator, updateAndAllocate, type AdaLoraConfig } from '@peftjs/adalora';

const BASE = peftFixturePath('bert-seqcls-lora', 'base');
let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(adalora);
  setWarningHandler(() => {});
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-adalora-bert-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('AdaLoRA on BERT with a classifier (SEQ_CLS, modules_to_save)', () => {
  it('allocates ranks, trains the classifier copy, saves both and reloads and merges to the same logits', async () => {
    const io = await loadFixtureTensors('bert-seqcls-lora', 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32'), tf.cast(io.token_type_ids!, 'int32')];
    const base = await AutoModelForSequenceClassification.fromPretrained(BASE);
    const baseLogits = base.predict(inputs) as tf.Tensor;
    const config = createAdaloraConfig({
      taskType: 'SEQ_CLS',
      initR: 4,
      targetR: 2,
      tinit: 0,
      tfinal: 1,
      totalStep: 3,
      targetModules: ['query', 'value'],
      modulesToSave: ['classifier', 'score'],
      initLoraWeights: false,
    });
    const peftModel = getPeftModel(base, config);
    expect(peftModel.targetedModuleNames).toHaveLength(4);
    const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    // 4 layers × (A, B, E) and the classifier copy's kernel and bias.
    expect(variables).toHaveLength(14);
    const labels = tf.oneHot(tf.tensor1d([1, 0], 'int32'), 2);
    const optimizer = tf.train.sgd(0.05);
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const logits = peftModel.model.apply(inputs, { training: true }) as tf.Tensor;
        return tf.add(tf.losses.softmaxCrossEntropy(labels, logits), adalora.training!.extraLoss!({ peftModel, adapterName: 'default', globalStep: step + 1 })!) as tf.Scalar;
      }, variables);
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      await updateAndAllocate(peftModel, step, grads);
      tf.dispose([value, ...Object.values(grads)]);
    }
    disposeRankAllocator(peftModel);
    const pattern = (peftModel.peftConfig.default as AdaLoraConfig).rankPattern!;
    expect(Object.keys(pattern).sort()).toEqual(peftModel.targetedModuleNames.map((path) => `${path}.lora_E`).sort());
    const kept = Object.values(pattern).reduce((sum, mask) => sum + mask.filter(Boolean).length, 0);
    expect(kept).toBeLessThanOrEqual(8);
    const trained = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxAbsDifference(trained, baseLogits)).toBeGreaterThan(1e-4);

    await savePretrained(peftModel, scratch);
    const written = JSON.parse(await readFile(join(scratch, 'adapter_config.json'), 'utf8'));
    expect(written).toMatchObject({ peft_type: 'ADALORA', task_type: 'SEQ_CLS', modules_to_save: ['classifier', 'score'], rank_pattern: pattern });
    const shapes = peftModel.getStateDictShapes();
    expect(shapes['base_model.model.classifier.weight']).toEqual([2, 32]);
    expect(
      Object.entries(shapes)
        .filter(([key]) => key.endsWith('.lora_E'))
        .reduce((sum, [, shape]) => sum + shape[0]!, 0),
    ).toBe(kept);

    const reloaded = await fromPretrained(await AutoModelForSequenceClassification.fromPretrained(BASE), scratch);
    const reloadedLogits = reloaded.model.predict(inputs) as tf.Tensor;
    expect(await maxCloseViolation(reloadedLogits, trained, 1e-5, 1e-5)).toBe(0);
    const merged = await reloaded.mergeAndUnload();
    expect(await maxCloseViolation(merged.predict(inputs) as tf.Tensor, trained, 1e-4, 1e-4)).toBe(0);
    tf.dispose([baseLogits, trained, reloadedLogits, labels, ...inputs, ...Object.values(io)]);
  });
});
