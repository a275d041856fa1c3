import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, unregisterTuner } from '@peftjs/core';
import { createIA3, ia3 } from '@peftjs/ia3';
import { createLora, lora } from '@peftjs/lora';
import { AutoModelForCausalLM } from '@peftjs/models';
import { TINY_LLAMA } from '../../../test-fixtures/tiny-configs';

const leaves = (paths: readonly string[]) => [...new Set(paths.map((path) => path.slice(path.lastIndexOf('.') + 1)))].sort();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterAll(() => {
  registerTuner(lora, { override: true });
  registerTuner(ia3, { override: true });
});

// @peftjs/models registers its architectures (roles, layer names) but no method's table: the
// tuner's own table, with the user's entries on top, decides.
describe('default targets with @peftjs/models loaded', () => {
  it("takes LoRA's and IA3's own tables for llama", () => {
    registerTuner(lora, { override: true });
    registerTuner(ia3, { override: true });
    const loraModel = getPeftModel(AutoModelForCausalLM.fromConfig(TINY_LLAMA), { peft_type: 'LORA', r: 2 });
    expect(leaves(loraModel.targetedModuleNames)).toEqual(['q_proj', 'v_proj']);
    const ia3Model = getPeftModel(AutoModelForCausalLM.fromConfig(TINY_LLAMA), { peft_type: 'IA3' });
    expect(leaves(ia3Model.targetedModuleNames)).toEqual(['down_proj', 'k_proj', 'v_proj']);
    expect(ia3Model.peftConfig.default).toMatchObject({ feedforwardModules: ['down_proj'] });
    loraModel.model.dispose();
    ia3Model.model.dispose();
  });

  it("lets the user's createLora({ defaultTargets }) win", () => {
    registerTuner(createLora({ defaultTargets: { llama: { targetModules: ['k_proj'] } } }), { override: true });
    const peft = getPeftModel(AutoModelForCausalLM.fromConfig(TINY_LLAMA), { peft_type: 'LORA', r: 2 });
    expect(leaves(peft.targetedModuleNames)).toEqual(['k_proj']);
    expect(peft.peftConfig.default).toMatchObject({ targetModules: ['k_proj'] });
    peft.model.dispose();
    unregisterTuner('LORA');
  });

  it("lets the user's createIA3({ defaultTargets }) win, feed-forward modules included", () => {
    registerTuner(createIA3({ defaultTargets: { llama: { targetModules: ['q_proj', 'up_proj'], feedforwardModules: ['up_proj'] } } }), { override: true });
    const peft = getPeftModel(AutoModelForCausalLM.fromConfig(TINY_LLAMA), { peft_type: 'IA3' });
    expect(leaves(peft.targetedModuleNames)).toEqual(['q_proj', 'up_proj']);
    expect(peft.peftConfig.default).toMatchObject({ targetModules: ['q_proj', 'up_proj'], feedforwardModules: ['up_proj'] });
    peft.model.dispose();
    unregisterTuner('IA3');
  });
});
