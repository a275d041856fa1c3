import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, InvalidConfigError, registerTuner, setModelInfo, setWarningHandler, PeftModel } from '@peftjs/core';
import { assertClose, describeTunerConformance } from '@peftjs/core/testing';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { mlp } from '../../../test-fixtures/small-models';
import { fixtureInputs, loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { createIA3Config, ia3 } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(ia3);
  setWarningHandler(() => {});
});

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });

function convNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [5, 5, 2] });
  const h = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv2d', kernelInitializer: init(7), biasInitializer: init(8) }).apply(x) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten({ name: 'flat' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 2, name: 'lin0', kernelInitializer: init(9) }).apply(flat) as tfl.SymbolicTensor });
}

const mlpInputs = () => tf.randomNormal([4, 6], 0, 1, 'float32', 11);
const convInputs = () => tf.randomNormal([3, 5, 5, 2], 0, 1, 'float32', 12);

describeTunerConformance(ia3, [
  { name: 'MLP, output scaling', makeModel: mlp, makeInputs: mlpInputs, config: { target_modules: ['lin0', 'lin1'], feedforward_modules: [] } },
  { name: 'MLP, input scaling (feed-forward)', makeModel: mlp, makeInputs: mlpInputs, config: { target_modules: ['lin0', 'lin1'], feedforward_modules: ['lin1'] } },
  { name: 'MLP, regex + modules_to_save', makeModel: mlp, makeInputs: mlpInputs, config: { target_modules: 'lin[01]', feedforward_modules: 'lin0', modules_to_save: ['lin2'] } },
  { name: 'Conv2D, output scaling', makeModel: convNet, makeInputs: convInputs, config: { target_modules: ['conv2d', 'lin0'] } },
  { name: 'Conv2D, input scaling', makeModel: convNet, makeInputs: convInputs, config: { target_modules: ['conv2d'], feedforward_modules: ['conv2d'] } },
]);

describe('IA3 config', () => {
  it('refuses feed-forward modules that are not targets, naming them', () => {
    expect(() => createIA3Config({ targetModules: ['lin0'], feedforwardModules: ['lin1'] })).toThrow(InvalidConfigError);
    expect(() => createIA3Config({ targetModules: ['lin0'], feedforwardModules: ['lin1'] })).toThrow(/not targets: lin1/);
  });

  it('writes the keys PEFT writes', () => {
    const python = JSON.parse(readFileSync(peftFixturePath('mlp-ia3', 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = ia3.serializeConfig(ia3.parseConfig(python));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
    expect({ ...ours, target_modules: new Set(ours.target_modules as string[]) }).toEqual({ ...python, target_modules: new Set(python.target_modules) });
  });

  it('fills llama defaults: k_proj, v_proj, down_proj with down_proj feed-forward', () => {
    const x = tfl.input({ shape: [4] });
    let h = x;
    for (const name of ['model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.0.mlp.down_proj', 'lm_head']) {
      h = tfl.layers.dense({ units: 4, name }).apply(h) as tfl.SymbolicTensor;
    }
    const model = tfl.model({ inputs: x, outputs: h });
    setModelInfo(model, { modelType: 'llama' });
    const peftModel = getPeftModel(model, { peft_type: 'IA3' });
    expect(peftModel.targetedModuleNames).toEqual(['model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.0.mlp.down_proj']);
    expect(Object.fromEntries(Object.entries(peftModel.getStateDictShapes()).map(([key, shape]) => [key.split('.').slice(-2, -1)[0], shape]))).toEqual({
      k_proj: [4, 1],
      v_proj: [4, 1],
      down_proj: [1, 4],
    });
  });
});

describe('IA3 parity with Python PEFT (mlp-ia3)', () => {
  it('reproduces adapted, merged and disabled outputs and the saved tensors', async () => {
    const testCase = peftCase('mlp-ia3');
    const { atol, rtol } = testCase;
    const io = await loadFixtureTensors('mlp-ia3', 'io.safetensors');
    const saved = await loadFixtureTensors('mlp-ia3', 'adapter', 'adapter_model.safetensors');
    const config = JSON.parse(readFileSync(peftFixturePath('mlp-ia3', 'adapter', 'adapter_config.json'), 'utf8'));
    const model = await loadFixtureBaseModel('mlp-ia3');
    const inputs = fixtureInputs(io);
    await assertClose(model.predict(inputs) as tf.Tensor, io.expected_base!, { atol, rtol, message: 'base' });
    const peftModel = new PeftModel(model, config);
    const before = tf.memory().numTensors;
    peftModel.loadStateDict(saved);
    expect(tf.memory().numTensors).toBe(before);
    await assertClose(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, { atol, rtol, message: 'adapted' });
    await assertClose(
      peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor),
      io.expected_disabled!,
      { atol, rtol, message: 'disabled' },
    );
    const ours = peftModel.getStateDict();
    expect(Object.keys(ours).sort()).toEqual(Object.keys(saved).sort());
    for (const key of Object.keys(saved)) await assertClose(ours[key]!, saved[key]!, { atol: 0, rtol: 0, message: key });
    const merged = await peftModel.mergeAndUnload();
    await assertClose(merged.predict(inputs) as tf.Tensor, io.expected_merged!, { atol, rtol, message: 'merged' });
  });

  it('runs a mixed-adapter batch: each row with its own adapter or none', async () => {
    const model = mlp();
    const peftModel = new PeftModel(model, { peft_type: 'IA3', target_modules: ['lin0', 'lin1'], feedforward_modules: ['lin1'], init_ia3_weights: false });
    peftModel.addAdapter('other', { peft_type: 'IA3', target_modules: ['lin0', 'lin1'], feedforward_modules: ['lin1'], init_ia3_weights: false });
    const x = mlpInputs();
    const base = peftModel.disableAdapter(() => peftModel.model.predict(x) as tf.Tensor);
    const first = peftModel.model.predict(x) as tf.Tensor;
    peftModel.setAdapter('other');
    const second = peftModel.model.predict(x) as tf.Tensor;
    const mixed = peftModel.predict(x, { adapterNames: ['default', '__base__', 'other', 'default'] }) as tf.Tensor;
    const expected = tf.stack([tf.gather(first, 0), tf.gather(base, 1), tf.gather(second, 2), tf.gather(first, 3)]);
    await assertClose(mixed, expected, { atol: 1e-6, rtol: 1e-6 });
    expect(() => peftModel.predict(x, { adapterNames: ['default'] })).toThrow(/4 rows/);
  });

  it('trains a tiny regression with IA3 only: loss falls, base weights stay', async () => {
    const model = mlp();
    const peftModel = getPeftModel(model, { peft_type: 'IA3', target_modules: ['lin0', 'lin1', 'lin2'], feedforward_modules: ['lin2'] });
    const kernel = await model.getLayer('lin1').getWeights()[0]!.data();
    peftModel.model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const x = tf.randomNormal([32, 6], 0, 1, 'float32', 3);
    const y = tf.mul(peftModel.model.predict(x) as tf.Tensor, 1.5);
    const history = await peftModel.model.fit(x, y, { epochs: 20, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
    expect(await model.getLayer('lin1').getWeights()[0]!.data()).toEqual(kernel);
  });
});
