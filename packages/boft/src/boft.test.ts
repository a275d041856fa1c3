import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, InvalidConfigError, PeftModel, registerTuner, setWarningHandler, UnsupportedLayerError } from '@peftjs/core';
import { assertClose, describeTunerConformance } from '@peftjs/core/testing';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { fixtureInputs, loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { convInputs, convNet, mlp, mlpInputs, sequenceInputs, sequenceMlp } from '../../../test-fixtures/small-models';
import { blockButterflyPermutation, boft, BoftLayer, createBoftConfig } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(boft);
  setWarningHandler(() => {});
});

/** Dense 8 → 16 → 8 for butterfly factors > 1 (fan-ins divisible by block size · 2^(N−1)). */
function wideMlp(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
  const x = tfl.input({ shape: [8] });
  let h = tfl.layers.dense({ units: 16, name: 'lin0', kernelInitializer: init(1), biasInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'relu0' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 8, name: 'lin1', kernelInitializer: init(3), biasInitializer: init(4) }).apply(h) as tfl.SymbolicTensor });
}
const wideInputs = () => tf.randomNormal([4, 8], 0, 1, 'float32', 31);

describeTunerConformance(boft, [
  { name: 'Dense, block size 2', makeModel: mlp, makeInputs: mlpInputs, config: { boft_block_size: 2, target_modules: ['lin0', 'lin1'] } },
  {
    name: 'Dense, block number 2 + dropout + boft_only bias',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { boft_block_size: 0, boft_block_num: 2, boft_dropout: 0.5, bias: 'boft_only', target_modules: 'lin[12]' },
  },
  {
    name: 'Dense, butterfly factor 2 and 3',
    makeModel: wideMlp,
    makeInputs: wideInputs,
    config: { boft_block_size: 2, boft_n_butterfly_factor: 2, target_modules: ['lin0', 'lin1'] },
    otherConfig: { boft_block_size: 2, boft_n_butterfly_factor: 3, target_modules: ['lin0', 'lin1'] },
  },
  { name: 'Dense with fused activation, rank-3 inputs', makeModel: sequenceMlp, makeInputs: sequenceInputs, config: { boft_block_size: 4, target_modules: ['proj', 'out'] } },
  {
    name: 'Conv2D (stride 2, same, relu) + Conv2D + Dense',
    makeModel: convNet,
    makeInputs: convInputs,
    config: { boft_block_size: 3, target_modules: ['conv', 'conv1'] },
    otherConfig: { boft_block_size: 0, boft_block_num: 4, target_modules: ['conv1', 'head'] },
  },
]);

describe('BOFT config and blocks', () => {
  it('needs exactly one of boft_block_size and boft_block_num', () => {
    expect(() => createBoftConfig({ boftBlockSize: 0, boftBlockNum: 0 })).toThrow(InvalidConfigError);
    expect(() => createBoftConfig({ boftBlockSize: 4, boftBlockNum: 2 })).toThrow(/not both/);
  });

  it('builds PEFT 0.11.1 butterfly permutations', () => {
    expect(blockButterflyPermutation(8, 4, 1, 1)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(blockButterflyPermutation(8, 2, 1, 1)).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect(blockButterflyPermutation(8, 1, 1, 2)).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
    expect(blockButterflyPermutation(6, 3, 1, 0)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refuses fan-ins the blocks do not divide, naming the layer, and leaves the model as it was', () => {
    const model = mlp();
    expect(() => getPeftModel(model, { peft_type: 'BOFT', boft_block_size: 4, target_modules: ['lin0'] })).toThrow(
      /in_features \(6\) must be divisible by boft_block_size \(4\).*lin0/,
    );
    expect(model.getLayer('lin0').getClassName()).toBe('Dense');
    const conv = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [5, 5, 2], filters: 2, kernelSize: [3, 1], name: 'c' })] });
    expect(() => getPeftModel(conv, { peft_type: 'BOFT', boft_block_size: 2, target_modules: ['c'] })).toThrow(UnsupportedLayerError);
  });
});

describe('BOFT parity with Python PEFT (mlp-boft)', () => {
  it('reproduces adapted, merged and disabled outputs and the saved tensors (boft_P included)', async () => {
    const testCase = peftCase('mlp-boft');
    const { atol, rtol } = testCase;
    const io = await loadFixtureTensors('mlp-boft', 'io.safetensors');
    const saved = await loadFixtureTensors('mlp-boft', 'adapter', 'adapter_model.safetensors');
    const config = JSON.parse(readFileSync(peftFixturePath('mlp-boft', 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = boft.serializeConfig(boft.parseConfig(config));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(config).sort());
    const model = await loadFixtureBaseModel('mlp-boft');
    const inputs = fixtureInputs(io);
    const peftModel = new PeftModel(model, config);
    const shapes = peftModel.getStateDictShapes();
    expect(Object.keys(shapes).sort()).toEqual(Object.keys(saved).sort());
    for (const [key, value] of Object.entries(saved)) expect(shapes[key], key).toEqual(value.shape);
    const before = tf.memory().numTensors;
    peftModel.loadStateDict(saved);
    expect(tf.memory().numTensors).toBe(before);
    await assertClose(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, { atol, rtol, message: 'adapted' });
    await assertClose(
      peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor),
      io.expected_disabled!,
      { atol, rtol, message: 'disabled' },
    );
    const state = peftModel.getStateDict();
    for (const key of Object.keys(saved)) await assertClose(state[key]!, saved[key]!, { atol: 0, rtol: 0, message: key });
    const merged = await peftModel.mergeAndUnload();
    await assertClose(merged.predict(inputs) as tf.Tensor, io.expected_merged!, { atol, rtol, message: 'merged' });
  });

  it('takes the butterfly factor from boft_R: a factor-2 config loads a file PEFT saved without CUDA (factor 1)', async () => {
    const io = await loadFixtureTensors('mlp-boft', 'io.safetensors');
    const saved = await loadFixtureTensors('mlp-boft', 'adapter', 'adapter_model.safetensors');
    const config = { ...JSON.parse(readFileSync(peftFixturePath('mlp-boft', 'adapter', 'adapter_config.json'), 'utf8')), boft_n_butterfly_factor: 2 };
    const peftModel = new PeftModel(await loadFixtureBaseModel('mlp-boft'), config);
    const layer = peftModel.model.getLayer('lin1') as BoftLayer;
    expect(layer.butterflyFactor('default')).toBe(2);
    const before = tf.memory().numTensors;
    peftModel.loadStateDict(saved);
    // Each of the 3 layers drops its second permutation (factor 2 → 1); nothing else is left behind.
    expect(tf.memory().numTensors).toBe(before - 3);
    expect(layer.butterflyFactor('default')).toBe(1);
    await assertClose(peftModel.model.predict(fixtureInputs(io)) as tf.Tensor, io.expected_adapted!, { atol: 1e-4, rtol: 1e-4, message: 'adapted' });
    // A file whose blocks do not fit is refused and the factor stays.
    const other = new PeftModel(await loadFixtureBaseModel('mlp-boft'), config);
    const wrong = { ...saved, 'base_model.model.lin1.boft_R': tf.zeros([1, 2, 8, 8]) };
    expect(() => other.loadStateDict(wrong)).toThrow(/shape/);
    expect((other.model.getLayer('lin1') as BoftLayer).butterflyFactor('default')).toBe(2);
  });
});

describe('BOFT training', () => {
  it('reduces a regression loss, moving only boft_R and boft_s', async () => {
    const model = wideMlp();
    const peftModel = getPeftModel(model, { peft_type: 'BOFT', boft_block_size: 2, boft_n_butterfly_factor: 2, target_modules: ['lin0', 'lin1'] });
    const layer = peftModel.model.getLayer('lin0') as BoftLayer;
    const kernel = await layer.kernel.read().data();
    const x = wideInputs();
    const y = tf.tidy(() => tf.mul(peftModel.model.predict(x) as tf.Tensor, -1));
    peftModel.model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const history = await peftModel.model.fit(x, y, { epochs: 15, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
    expect(await layer.kernel.read().data()).toEqual(kernel);
    tf.dispose([x, y]);
  });
});
