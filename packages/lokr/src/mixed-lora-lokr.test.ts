import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, registerTuner, setWarningHandler, TunerLayer, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, perturbAdapter } from '@peftjs/core/testing';
import { lycorisMlp, lycorisMlpInputs } from '@peftjs/lycoris/testing';
import { lora } from '@peftjs/lora';
import { lokr } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  registerTuner(lokr);
  setWarningHandler(() => {});
});

// lin0 has a relu inside the Dense layer: the outer layer must add its delta before it.
const LORA = { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['lin0', 'lin1'], init_lora_weights: false };
const LOKR = { peft_type: 'LOKR', r: 1, alpha: 1, target_modules: ['lin0', 'lin2'], init_weights: false, decompose_both: true };

/** Each adapter's merged kernels, from an ordinary PeftModel holding only that adapter. */
async function mergedKernels(config: Record<string, unknown>, state: Record<string, tf.Tensor>): Promise<Map<string, tf.Tensor>> {
  const single = getPeftModel(lycorisMlp(), config, { adapterName: 'only' });
  single.loadStateDict(state, 'only');
  const merged = await single.mergeAndUnload();
  const kernels = new Map(['lin0', 'lin1', 'lin2'].map((name) => [name, getLayerByPath(merged, name)!.getWeights()[0]!.clone()] as const));
  for (const weight of merged.weights) weight.dispose();
  return kernels;
}

function outputWithKernels(kernels: Map<string, tf.Tensor>, inputs: tf.Tensor): tf.Tensor {
  const model = lycorisMlp();
  for (const [name, kernel] of kernels) {
    const layer = getLayerByPath(model, name)!;
    layer.setWeights([kernel, ...layer.getWeights().slice(1)]);
  }
  const output = model.predict(inputs) as tf.Tensor;
  for (const weight of model.weights) weight.dispose();
  return output;
}

describe('mixed LoRA + LoKr', () => {
  it.each([
    [
      'LoRA first, LoKr wraps it',
      [
        ['adp_lora', LORA],
        ['adp_lokr', LOKR],
      ],
    ],
    [
      'LoKr first, LoRA wraps it',
      [
        ['adp_lokr', LOKR],
        ['adp_lora', LORA],
      ],
    ],
  ] as const)('%s: both active = base + both deltas; each alone; disabled; merged; state dicts round-trip', async (_, order) => {
    const before = tf.memory().numTensors;
    const inputs = lycorisMlpInputs();
    const [[firstName, firstConfig], [secondName, secondConfig]] = order;
    const peftModel: PeftModel = getPeftModel(lycorisMlp(), firstConfig, { mixed: true, adapterName: firstName });
    peftModel.addAdapter(secondName, secondConfig);
    await perturbAdapter(peftModel, 'adp_lora');
    const lin0 = getLayerByPath(peftModel.model, 'lin0') as TunerLayer;
    expect([lin0.peftType, (lin0.baseLayer as TunerLayer).peftType]).toEqual([secondConfig.peft_type, firstConfig.peft_type]);

    const states = { adp_lora: peftModel.getStateDict('adp_lora'), adp_lokr: peftModel.getStateDict('adp_lokr') };
    expect(Object.keys(states.adp_lora).every((key) => !key.includes('base_layer'))).toBe(true);
    expect(Object.keys(states.adp_lokr).every((key) => /^base_model\.model\.lin[02]\.lokr_w[12](_[ab])?$/.test(key))).toBe(true);
    const loraKernels = await mergedKernels(LORA, states.adp_lora);
    const lokrKernels = await mergedKernels(LOKR, states.adp_lokr);
    const base = lycorisMlp();
    const baseKernels = new Map(['lin0', 'lin1', 'lin2'].map((name) => [name, getLayerByPath(base, name)!.getWeights()[0]!] as const));
    const both = new Map([...baseKernels].map(([name, kernel]) => [name, tf.tidy(() => tf.sub(tf.add(loraKernels.get(name)!, lokrKernels.get(name)!), kernel))] as const));
    const expected = {
      both: outputWithKernels(both, inputs),
      adp_lora: outputWithKernels(loraKernels, inputs),
      adp_lokr: outputWithKernels(lokrKernels, inputs),
      base: base.predict(inputs) as tf.Tensor,
    };
    const close = async (label: string, run: () => tf.Tensor, target: tf.Tensor) => {
      const output = run();
      expect(await maxAbsDifference(output, target), label).toBeLessThan(1e-5);
      output.dispose();
    };
    const predict = () => peftModel.model.predict(inputs) as tf.Tensor;

    peftModel.setAdapter(['adp_lora', 'adp_lokr']);
    expect(await maxAbsDifference(expected.both, expected.base)).toBeGreaterThan(1e-2);
    await close('both', predict, expected.both);
    await close('disabled', () => peftModel.disableAdapter(predict), expected.base);
    peftModel.setAdapter('adp_lora');
    await close('LoRA alone', predict, expected.adp_lora);
    peftModel.setAdapter('adp_lokr');
    await close('LoKr alone', predict, expected.adp_lokr);
    peftModel.setAdapter(['adp_lokr', 'adp_lora']);
    await peftModel.mergeAdapter();
    await close('merged', predict, expected.both);
    peftModel.unmergeAdapter();

    // A fresh mixed model loads each adapter's state dict and gives the same output.
    const reloaded = getPeftModel(lycorisMlp(), firstConfig, { mixed: true, adapterName: firstName });
    reloaded.addAdapter(secondName, secondConfig);
    reloaded.loadStateDict(states[firstName], firstName);
    reloaded.loadStateDict(states[secondName], secondName);
    reloaded.setAdapter([firstName, secondName]);
    await close('reloaded', () => reloaded.model.predict(inputs) as tf.Tensor, expected.both);

    const merged = await peftModel.mergeAndUnload();
    await close('merge_and_unload', () => merged.predict(inputs) as tf.Tensor, expected.both);

    for (const model of [merged, reloaded.unload(), base]) for (const weight of model.weights) if (!weight.read().isDisposed) weight.dispose();
    tf.dispose([
      inputs,
      ...Object.values(expected),
      ...both.values(),
      ...loraKernels.values(),
      ...lokrKernels.values(),
      ...Object.values(states.adp_lora),
      ...Object.values(states.adp_lokr),
    ]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
