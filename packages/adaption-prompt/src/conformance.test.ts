import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll } from 'vitest';
import { registerTuner, setWarningHandler } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { pooledTinyLlama, TINY_LLAMA, tinyInputs } from './__fixtures__/tiny-llama';
import { adaptionPrompt } from './index';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(adaptionPrompt);
  setWarningHandler(() => {});
});

describeTunerConformance(adaptionPrompt, [
  {
    name: 'Llama (GQA), top 2 layers',
    makeModel: () => pooledTinyLlama(),
    makeInputs: () => tinyInputs(),
    config: { adapter_len: 4, adapter_layers: 2 },
    otherConfig: { adapter_len: 3, adapter_layers: 1 },
    mergeable: false,
  },
  {
    name: 'Llama with attention_bias (a biased o_proj)',
    makeModel: () => pooledTinyLlama({ ...TINY_LLAMA, attention_bias: true, num_key_value_heads: 4 }),
    makeInputs: () => tinyInputs(),
    config: { adapter_len: 2, adapter_layers: 3 },
    mergeable: false,
  },
]);
