import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, UnsupportedLayerError } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { TestRMSNorm } from './__fixtures__/rms-norm';
import { peftFixturePath } from '../../../test-fixtures/index';
import { createLnTuningConfig, lnTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lnTuning);
  setWarningHandler(() => {});
});

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });

/** proj → LayerNorm (weight + bias) → out, on sequences [batch, 3, 6]. */
function layerNormNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [3, 6] });
  let h = tfl.layers.dense({ units: 8, name: 'proj', kernelInitializer: init(1) }).apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.layerNormalization({ name: 'ln_1', epsilon: 1e-5 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 8, name: 'mid', kernelInitializer: init(2) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.layerNormalization({ name: 'ln_f', epsilon: 1e-5 }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 4, name: 'out', kernelInitializer: init(3) }).apply(h) as tfl.SymbolicTensor });
}

/** proj → Llama RMSNorm (weight only) → out. */
function rmsNormNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [3, 6] });
  let h = tfl.layers.dense({ units: 8, name: 'proj', kernelInitializer: init(4) }).apply(x) as tfl.SymbolicTensor;
  h = new TestRMSNorm({ name: 'norm', epsilon: 1e-6 }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 4, name: 'out', kernelInitializer: init(5) }).apply(h) as tfl.SymbolicTensor });
}

const sequenceInputs = () => tf.randomNormal([2, 3, 6], 0, 1, 'float32', 8);

/** emb → flatten → lin: PEFT's LN tuning copies any module it targets (llava's defaults copy embed_tokens and lm_head). */
function embeddingNet(): tfl.LayersModel {
  const ids = tfl.input({ shape: [5], dtype: 'int32' });
  let h = tfl.layers.embedding({ inputDim: 12, outputDim: 6, name: 'emb', embeddingsInitializer: init(6) }).apply(ids) as tfl.SymbolicTensor;
  h = tfl.layers.flatten({ name: 'flatten' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: ids, outputs: tfl.layers.dense({ units: 3, name: 'lin', kernelInitializer: init(7) }).apply(h) as tfl.SymbolicTensor });
}

const idInputs = () => tf.randomUniform([4, 5], 0, 12, 'int32', 9);

describeTunerConformance(lnTuning, [
  {
    name: 'LayerNorm (weight and bias)',
    makeModel: layerNormNet,
    makeInputs: sequenceInputs,
    config: { target_modules: ['ln_1', 'ln_f'] },
    otherConfig: { target_modules: ['ln_f'] },
  },
  { name: 'Embedding and Dense copies', makeModel: embeddingNet, makeInputs: idInputs, config: { target_modules: ['emb', 'lin'] }, otherConfig: { target_modules: ['lin'] } },
  {
    name: 'RMSNorm + modules_to_save',
    makeModel: rmsNormNet,
    makeInputs: sequenceInputs,
    config: { target_modules: ['norm'], modules_to_save: ['out'] },
    otherConfig: { target_modules: ['norm'] },
  },
]);

describe('LN tuning config', () => {
  it('reads and writes the keys PEFT writes', () => {
    const python = JSON.parse(readFileSync(peftFixturePath('llama-ln-tuning', 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = lnTuning.serializeConfig(lnTuning.parseConfig(python));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
    expect({ ...ours, target_modules: new Set(ours.target_modules as string[]) }).toEqual({ ...python, target_modules: new Set(python.target_modules) });
    expect(Object.keys(lnTuning.serializeConfig(createLnTuningConfig())).sort()).toEqual(Object.keys(python).sort());
  });

  it('refuses a layer without weights, naming it', () => {
    const x = tfl.input({ shape: [4] });
    const plain = tfl.model({ inputs: x, outputs: tfl.layers.activation({ activation: 'relu', name: 'act' }).apply(x) as tfl.SymbolicTensor });
    expect(() => getPeftModel(plain, { peft_type: 'LN_TUNING', target_modules: ['act'] })).toThrow(UnsupportedLayerError);
  });
});
