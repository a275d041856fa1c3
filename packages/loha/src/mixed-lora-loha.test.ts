import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterStateError, getPeftModel, InvalidConfigError, registerTuner, setWarningHandler, TunerLayer, getLayerByPath } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPretrained, loadAdapter, loadSafetensors, savePretrained } from '@peftjs/hub';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { createLohaConfig, loha } from './index';

const CASE = 'mlp-mixed-lora-loha';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  registerTuner(loha);
  registerTuner(ia3);
  setWarningHandler(() => {});
});

describe('mixed adapter types, equal to PEFT 0.11.1 PeftMixedModel (mlp-mixed-lora-loha)', () => {
  it('LoRA + LoHa loaded with fromPretrained({ mixed }) + loadAdapter: both active, each alone, disabled, merged, unloaded', async () => {
    const before = tf.memory().numTensors;
    const { atol, rtol } = peftCase(CASE);
    const io = await loadFixtureTensors(CASE, 'io.safetensors');
    const check = async (label: string, run: () => tf.Tensor, expected: string) => {
      const output = run();
      try {
        expect(await maxCloseViolation(output, io[expected]!, atol, rtol), label).toBe(0);
      } finally {
        output.dispose();
      }
    };
    const base = await loadFixtureBaseModel(CASE);
    const peftModel = await fromPretrained(base, peftFixturePath(CASE, 'adapters', 'adp_lora'), { mixed: true, adapterName: 'adp_lora', isTrainable: true });
    await loadAdapter(peftModel, peftFixturePath(CASE, 'adapters', 'adp_loha'), 'adp_loha', { isTrainable: true });
    peftModel.setAdapter(['adp_lora', 'adp_loha']);
    const predict = () => peftModel.model.predict(io.x!) as tf.Tensor;

    // lin1 carries both: LoHa, added second, wraps the LoRA layer, as in PEFT.
    const lin1 = getLayerByPath(peftModel.model, 'lin1') as TunerLayer;
    expect(lin1.peftType).toBe('LOHA');
    expect((lin1.baseLayer as TunerLayer).peftType).toBe('LORA');
    expect([...peftModel.namedParameters().keys()]).toContain('lin1.base_layer.lora_A.adp_lora.weight');
    expect(peftModel.targetedModuleNames.sort()).toEqual(['lin0', 'lin1', 'lin2']);

    await check('mixed', predict, 'expected_mixed');
    await check('disabled', () => peftModel.disableAdapter(predict), 'expected_disabled');
    await check('mixed after disable', predict, 'expected_mixed');
    peftModel.setAdapter('adp_lora');
    await check('adp_lora alone', predict, 'expected_adp_lora');
    await peftModel.mergeAdapter();
    await check('adp_lora merged', predict, 'expected_merged_adp_lora');
    peftModel.unmergeAdapter();
    peftModel.setAdapter('adp_loha');
    await check('adp_loha alone', predict, 'expected_adp_loha');
    await peftModel.mergeAdapter();
    await check('adp_loha merged', predict, 'expected_merged_adp_loha');
    peftModel.unmergeAdapter();
    peftModel.setAdapter(['adp_lora', 'adp_loha']);

    // Each adapter saves under the keys an ordinary PeftModel with that one adapter writes.
    for (const name of ['adp_lora', 'adp_loha']) {
      const saved = await loadFixtureTensors(CASE, 'adapters', name, 'adapter_model.safetensors');
      const ours = peftModel.getStateDict(name);
      expect(Object.keys(ours).sort(), name).toEqual(Object.keys(saved).sort());
      for (const [key, value] of Object.entries(saved)) expect(await maxAbsDifference(ours[key]!, value), key).toBe(0);
      tf.dispose([...Object.values(ours), ...Object.values(saved)]);
    }

    // PEFT 0.11.1 cannot save a mixed model; here each adapter saves as its own folder, which loads back.
    const dir = await mkdtemp(join(tmpdir(), 'peftjs-mixed-'));
    try {
      await savePretrained(peftModel, dir);
      for (const name of ['adp_lora', 'adp_loha']) {
        const ours = await loadSafetensors(join(dir, name, 'adapter_model.safetensors'));
        const theirs = await loadFixtureTensors(CASE, 'adapters', name, 'adapter_model.safetensors');
        expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
        for (const [key, value] of Object.entries(theirs)) expect(await maxAbsDifference(ours[key]!, value), key).toBe(0);
        tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
      }
      const reloaded = await fromPretrained(await loadFixtureBaseModel(CASE), join(dir, 'adp_lora'), { mixed: true, adapterName: 'adp_lora' });
      await loadAdapter(reloaded, join(dir, 'adp_loha'), 'adp_loha');
      reloaded.setAdapter(['adp_lora', 'adp_loha']);
      await check('saved and reloaded', () => reloaded.model.predict(io.x!) as tf.Tensor, 'expected_mixed');
      for (const weight of reloaded.unload().weights) weight.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // Only the active adapters' weights train.
    const trainable = peftModel.model.trainableWeights.map((weight) => weight.originalName ?? weight.name).sort();
    expect(trainable.every((name) => /lora_|hada_/.test(name))).toBe(true);
    expect(trainable).toHaveLength(4 + 8);

    await peftModel.mergeAdapter();
    await check('both merged', predict, 'expected_merged_mixed');
    peftModel.unmergeAdapter();
    await check('both unmerged', predict, 'expected_mixed');

    const merged = await peftModel.mergeAndUnload();
    expect(merged.layers.some((layer) => TunerLayer.isTunerLayer(layer))).toBe(false);
    await check('merge_and_unload', () => merged.predict(io.x!) as tf.Tensor, 'expected_merged_mixed');
    for (const weight of merged.weights) weight.dispose();
    tf.dispose(Object.values(io));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('built with getPeftModel({ mixed }) + addAdapter; unload restores the base; refusals name the way out', async () => {
    const io = await loadFixtureTensors(CASE, 'io.safetensors');
    const { atol, rtol } = peftCase(CASE);
    const loraConfig = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['lin0', 'lin1'], init_lora_weights: false };
    const lohaConfig = createLohaConfig({ r: 2, alpha: 4, targetModules: ['lin1', 'lin2'], initWeights: false });

    const plain = getPeftModel(await loadFixtureBaseModel(CASE), loraConfig, { adapterName: 'adp_lora' });
    expect(() => plain.addAdapter('adp_loha', lohaConfig)).toThrow(AdapterStateError);
    expect(() => plain.addAdapter('adp_loha', lohaConfig)).toThrow(/mixed: true/);
    expect(plain.adapterNames).toEqual(['adp_lora']);

    const peftModel = getPeftModel(await loadFixtureBaseModel(CASE), loraConfig, { mixed: true, adapterName: 'adp_lora' });
    peftModel.addAdapter('adp_loha', lohaConfig);
    expect(() => peftModel.addAdapter('scale', { peft_type: 'IA3', target_modules: ['lin0'], feedforward_modules: [] })).toThrow(InvalidConfigError);
    expect(() => peftModel.addAdapter('scale', { peft_type: 'IA3', target_modules: ['lin0'], feedforward_modules: [] })).toThrow(
      /IA3 adapters cannot be used in a mixed model.*LORA.*LOHA/,
    );
    expect(peftModel.adapterNames).toEqual(['adp_lora', 'adp_loha']);
    peftModel.setAdapter(['adp_lora', 'adp_loha']);
    expect(peftModel.getModelStatus().activeAdapters).toBe('irregular');
    const mixed = peftModel.model.predict(io.x!) as tf.Tensor;
    expect(await maxAbsDifference(mixed, io.expected_base!)).toBeGreaterThan(1e-3);
    const restored = peftModel.unload();
    const output = restored.predict(io.x!) as tf.Tensor;
    expect(await maxCloseViolation(output, io.expected_base!, atol, rtol)).toBe(0);
    tf.dispose([mixed, output, ...Object.values(io)]);
  });
});
