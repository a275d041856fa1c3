import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll } from 'vitest';
import { registerTuner } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { convInputs, convNet, embeddingInputs, embeddingNet, mlp, mlpInputs, sequenceInputs, sequenceMlp } from './__fixtures__/models';
import { lora } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

describeTunerConformance(lora, [
  { name: 'Dense, list targets', makeModel: mlp, makeInputs: mlpInputs, config: { r: 4, lora_alpha: 8, target_modules: ['lin0', 'lin1'] } },
  { name: 'Dense, regex target, all layers', makeModel: mlp, makeInputs: mlpInputs, config: { r: 2, lora_alpha: 1, target_modules: 'lin[0-2]' } },
  { name: 'Dense, DoRA', makeModel: mlp, makeInputs: mlpInputs, config: { r: 4, lora_alpha: 8, target_modules: ['lin0', 'lin1', 'lin2'], use_dora: true } },
  {
    name: 'Dense, rsLoRA + rank/alpha patterns + dropout',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { r: 4, lora_alpha: 2, use_rslora: true, lora_dropout: 0.1, target_modules: ['lin0', 'lin1', 'lin2'], rank_pattern: { lin1: 2 }, alpha_pattern: { lin2: 3 } },
  },
  {
    name: 'Dense, gaussian init, bias all',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { target_modules: ['lin1'], init_lora_weights: 'gaussian', bias: 'all' },
    otherConfig: { target_modules: ['lin0', 'lin1'] },
  },
  {
    name: 'Dense, bias lora_only + modules_to_save',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { target_modules: ['lin0'], bias: 'lora_only', modules_to_save: ['lin2'] },
    otherConfig: { target_modules: ['lin1'], modules_to_save: ['lin2'] },
  },
  {
    name: 'Dense, two adapters on different layers',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { r: 3, target_modules: ['lin0'] },
    otherConfig: { r: 5, lora_alpha: 16, target_modules: ['lin1', 'lin2'], use_dora: true },
  },
  {
    name: 'Dense on rank-3 inputs, DoRA + rsLoRA',
    makeModel: sequenceMlp,
    makeInputs: sequenceInputs,
    config: { r: 2, target_modules: ['proj', 'out'], use_dora: true, use_rslora: true },
  },
  {
    name: 'Conv2D (stride 2, same) + Conv2D (valid) + Dense',
    makeModel: convNet,
    makeInputs: convInputs,
    config: { r: 2, lora_alpha: 1, target_modules: ['conv', 'conv1', 'head'] },
  },
  { name: 'Conv2D, DoRA', makeModel: convNet, makeInputs: convInputs, config: { r: 2, lora_alpha: 1, target_modules: ['conv', 'conv1'], use_dora: true } },
  { name: 'Embedding + Dense', makeModel: embeddingNet, makeInputs: embeddingInputs, config: { r: 3, lora_alpha: 6, target_modules: ['emb', 'lin'] } },
  {
    name: 'Embedding, rsLoRA, several adapters',
    makeModel: embeddingNet,
    makeInputs: embeddingInputs,
    config: { r: 4, use_rslora: true, target_modules: ['emb'] },
    otherConfig: { r: 2, target_modules: ['emb', 'lin'], rank_pattern: { lin: 1 } },
  },
]);
