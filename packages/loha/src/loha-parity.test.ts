import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained } from '@peftjs/hub';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { loha } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(loha);
  setWarningHandler(() => {});
});

describe('LoHa, equal to Python PEFT 0.11.1 (mlp-loha)', () => {
  it('reads and writes adapter_config.json with exactly PEFT keys', () => {
    const python = JSON.parse(readFileSync(peftFixturePath('mlp-loha', 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = loha.serializeConfig(loha.parseConfig(python));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
    expect({ ...ours, target_modules: new Set(ours.target_modules as string[]) }).toEqual({ ...python, target_modules: new Set(python.target_modules) });
  });

  it('adapted, disabled and merged outputs, and the saved tensors, match', async () => {
    const before = tf.memory().numTensors;
    const { atol, rtol } = peftCase('mlp-loha');
    const io = await loadFixtureTensors('mlp-loha', 'io.safetensors');
    const saved = await loadFixtureTensors('mlp-loha', 'adapter', 'adapter_model.safetensors');
    const base = await loadFixtureBaseModel('mlp-loha');
    const baseOutput = base.predict(io.x!) as tf.Tensor;
    expect(await maxCloseViolation(baseOutput, io.expected_base!, atol, rtol), 'base').toBe(0);

    const peftModel = await fromPretrained(base, peftFixturePath('mlp-loha', 'adapter'));
    expect(peftModel.targetedModuleNames.sort()).toEqual(['lin0', 'lin1']);
    const adapted = peftModel.model.predict(io.x!) as tf.Tensor;
    expect(await maxCloseViolation(adapted, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    const disabled = peftModel.disableAdapter(() => peftModel.model.predict(io.x!) as tf.Tensor);
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol), 'disabled').toBe(0);

    const stateDict = peftModel.getStateDict();
    expect(Object.keys(stateDict).sort()).toEqual(Object.keys(saved).sort());
    for (const [key, value] of Object.entries(saved)) expect(await maxAbsDifference(stateDict[key]!, value), key).toBe(0);

    await peftModel.mergeAdapter();
    const mergedInPlace = peftModel.model.predict(io.x!) as tf.Tensor;
    expect(await maxCloseViolation(mergedInPlace, io.expected_merged!, atol, rtol), 'merged in place').toBe(0);
    peftModel.unmergeAdapter();
    const unmerged = peftModel.model.predict(io.x!) as tf.Tensor;
    expect(await maxCloseViolation(unmerged, io.expected_adapted!, atol, rtol), 'unmerged').toBe(0);

    const merged = await peftModel.mergeAndUnload();
    expect(merged.layers.map((layer) => layer.getClassName())).not.toContain('LohaDense');
    const mergedOutput = merged.predict(io.x!) as tf.Tensor;
    expect(await maxCloseViolation(mergedOutput, io.expected_merged!, atol, rtol), 'merge_and_unload').toBe(0);

    tf.dispose([baseOutput, adapted, disabled, mergedInPlace, unmerged, mergedOutput, ...Object.values(stateDict), ...Object.values(io), ...Object.values(saved)]);
    for (const weight of merged.weights) weight.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
