import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM } from '@peftjs/models';
import { TINY_GPT2, TINY_LLAMA } from '../../../test-fixtures/tiny-configs';

// getPeftModel rebuilds the graph after each wrapped layer, calling the base layers downstream
// again. The PEFT model then owns the base model's layers: disposing it frees every tensor.
beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

const CASES: Array<[string, Record<string, unknown>, string[]]> = [
  ['llama', TINY_LLAMA, ['q_proj', 'v_proj']],
  ['gpt2', TINY_GPT2, ['c_attn']],
];

describe.each(CASES)('disposing a PEFT model (%s)', (_name, config, targetModules) => {
  const make = () => getPeftModel(AutoModelForCausalLM.fromConfig(config, { seed: 3 }), createLoraConfig({ r: 4, targetModules, initLoraWeights: false }));

  it('frees every tensor of the base model and the adapter', () => {
    const before = tf.memory().numTensors;
    const peft = make();
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    peft.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('after merge-and-unload and after unload, disposing the model left frees everything', async () => {
    const before = tf.memory().numTensors;
    const merged = await make().mergeAndUnload();
    merged.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const unloaded = make().unload();
    unloaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
