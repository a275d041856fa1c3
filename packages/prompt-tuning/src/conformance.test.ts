import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll } from 'vitest';
import { registerTuner, setWarningHandler } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { pooledTinyLm, TINY_LLAMA, tinyInputs } from './__fixtures__/tiny-models';
import { pTuning, prefixTuning, promptTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler(() => {});
});

const gpt2 = () => pooledTinyLm();
const llama = () => pooledTinyLm(TINY_LLAMA);
const inputs = () => tinyInputs(tf);
const common = { identityAtInit: false, mergeable: false, stateDictKeys: ['prompt_embeddings'] };

describeTunerConformance(promptTuning, [
  { name: 'GPT-2, random init', makeModel: gpt2, makeInputs: inputs, config: { num_virtual_tokens: 3 }, otherConfig: { num_virtual_tokens: 2 }, ...common },
  { name: 'Llama (GQA), random init', makeModel: llama, makeInputs: inputs, config: { num_virtual_tokens: 4 }, ...common },
]);

describeTunerConformance(pTuning, [
  { name: 'GPT-2, MLP encoder', makeModel: gpt2, makeInputs: inputs, config: { num_virtual_tokens: 3, encoder_hidden_size: 8 }, ...common },
  {
    name: 'GPT-2, LSTM encoder',
    makeModel: gpt2,
    makeInputs: inputs,
    config: { num_virtual_tokens: 3, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 6 },
    ...common,
  },
]);

describeTunerConformance(prefixTuning, [
  { name: 'GPT-2, no projection', makeModel: gpt2, makeInputs: inputs, config: { num_virtual_tokens: 3 }, otherConfig: { num_virtual_tokens: 5 }, ...common },
  { name: 'GPT-2, prefix projection', makeModel: gpt2, makeInputs: inputs, config: { num_virtual_tokens: 2, prefix_projection: true, encoder_hidden_size: 12 }, ...common },
  { name: 'Llama (GQA), no projection', makeModel: llama, makeInputs: inputs, config: { num_virtual_tokens: 3 }, ...common },
]);
