import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setModelInfo, unregisterTuner } from '@peftjs/core';
import { createLora, lora } from './index';

/** A llama-shaped attention block: q/k/v projections named as transformers names them. */
function attention(): tfl.LayersModel {
  const input = tfl.input({ shape: [4] });
  const project = (name: string) => tfl.layers.dense({ units: 4, name: `model.layers.0.self_attn.${name}` }).apply(input) as tfl.SymbolicTensor;
  const output = tfl.layers.add().apply([project('q_proj'), project('k_proj'), project('v_proj')]) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: output });
  setModelInfo(model, { modelType: 'llama' });
  return model;
}

const leaves = (paths: readonly string[]) => paths.map((path) => path.slice(path.lastIndexOf('.') + 1)).sort();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe("LoRA's default targets", () => {
  it("uses PEFT's table for a known model type", () => {
    registerTuner(lora, { override: true });
    const peft = getPeftModel(attention(), { peft_type: 'LORA', r: 2 });
    expect(leaves(peft.targetedModuleNames)).toEqual(['q_proj', 'v_proj']);
    expect(peft.peftConfig.default).toMatchObject({ targetModules: ['q_proj', 'v_proj'] });
  });

  it("lets a user's table win over PEFT's", () => {
    const mine = createLora({ defaultTargets: { llama: { targetModules: ['k_proj'] } } });
    registerTuner(mine, { override: true });
    try {
      const before = tf.memory().numTensors;
      const peft = getPeftModel(attention(), { peft_type: 'LORA', r: 2 });
      expect(leaves(peft.targetedModuleNames)).toEqual(['k_proj']);
      peft.model.dispose();
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    } finally {
      unregisterTuner('LORA');
      registerTuner(lora);
    }
  });
});
