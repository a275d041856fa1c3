import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, PeftModel, registerTuner, setWarningHandler, TunerLayer, UnsupportedLayerError } from '@peftjs/core';
import { assertClose, describeTunerConformance } from '@peftjs/core/testing';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { fixtureInputs, loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { convInputs, convNet, mlp, mlpInputs, sequenceInputs, sequenceMlp } from '../../../test-fixtures/small-models';
import { lora, LoraDense } from '@peftjs/lora';
import { batchedInverse, cayleyBatch, differentiableInverse, createOftConfig, lycorisPatternKey, oft, OftDense, OftLayer } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(oft);
  setWarningHandler(() => {});
});

describeTunerConformance(oft, [
  { name: 'Dense, r=4 (cut last block), random init', makeModel: mlp, makeInputs: mlpInputs, config: { r: 4, target_modules: ['lin0', 'lin1'] } },
  {
    name: 'Dense, rank_pattern + module_dropout',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { r: 2, target_modules: 'lin[0-2]', rank_pattern: { lin1: 3 }, module_dropout: 0.1 },
  },
  {
    name: 'Dense, coft + block_share',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { r: 5, target_modules: ['lin0', 'lin1'], coft: true, eps: 1e-3, block_share: true },
    otherConfig: { r: 2, target_modules: ['lin1'], coft: true },
  },
  { name: 'Dense with fused activation, rank-3 inputs', makeModel: sequenceMlp, makeInputs: sequenceInputs, config: { r: 3, target_modules: ['proj', 'out'] } },
  {
    name: 'Conv2D (stride 2, same, relu) + Conv2D + Dense',
    makeModel: convNet,
    makeInputs: convInputs,
    config: { r: 4, target_modules: ['conv', 'conv1', 'head'] },
    otherConfig: { r: 3, target_modules: ['conv'], block_share: true },
  },
]);

describe('orthogonal matrices', () => {
  it('inverts with and without pivoting, and the Cayley transform is orthogonal', async () => {
    const a = tf.randomNormal([3, 5, 5], 0, 1, 'float32', 5) as tf.Tensor3D;
    const eye = tf.tidy(() => tf.tile(tf.expandDims(tf.eye(5), 0), [3, 1, 1]));
    const before = tf.memory().numTensors;
    const inverse = batchedInverse(a, { pivot: true });
    const q = cayleyBatch(a);
    expect(tf.memory().numTensors).toBe(before + 2);
    await assertClose(tf.matMul(a, inverse), eye, { atol: 1e-4, rtol: 0, message: 'pivoted inverse' });
    // A permutation needs pivoting: its leading entry is zero.
    const permutation = tf.tensor3d([
      [
        [0, 1],
        [1, 0],
      ],
    ]);
    await assertClose(batchedInverse(permutation, { pivot: true }), permutation, { atol: 1e-6, rtol: 0, message: 'permutation inverse' });
    await assertClose(tf.matMul(q, q, false, true), eye, { atol: 1e-5, rtol: 0, message: 'Q·Qᵀ' });
    tf.dispose([a, eye, inverse, permutation, q]);
  });

  it("the inverse's closed-form gradient equals the gradient through the elimination steps", async () => {
    const skew = tf.tidy(() => {
      const a = tf.randomNormal([2, 4, 4], 0, 1, 'float32', 8);
      return tf.add(tf.tile(tf.expandDims(tf.eye(4), 0), [2, 1, 1]), tf.mul(tf.sub(a, tf.transpose(a, [0, 2, 1])), 0.5)) as tf.Tensor3D;
    });
    const weights = tf.randomNormal([2, 4, 4], 0, 1, 'float32', 9);
    const closedForm = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(differentiableInverse(a as tf.Tensor3D), weights)))(skew);
    const stepwise = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(batchedInverse(a as tf.Tensor3D), weights)))(skew);
    await assertClose(closedForm, stepwise, { atol: 1e-4, rtol: 1e-4, message: 'gradient of the inverse' });
    tf.dispose([skew, weights, closedForm, stepwise]);
  });

  it('looks rank_pattern keys up as PEFT LyCORIS does: (.*\\.)?key$, first match, else the layer name', () => {
    expect(lycorisPatternKey('model.layers.0.lin1', { lin1: 3 }, {})).toBe('lin1');
    expect(lycorisPatternKey('xlin1', { lin1: 3 }, {})).toBe('xlin1');
    expect(lycorisPatternKey('a.b.lin1', { 'b.lin1': 2, lin1: 3 }, {})).toBe('b.lin1');
  });
});

describe('OFT parity with Python PEFT (mlp-oft)', () => {
  it('reproduces adapted, merged and disabled outputs and the saved tensors, and writes PEFT config keys', async () => {
    const testCase = peftCase('mlp-oft');
    const { atol, rtol } = testCase;
    const io = await loadFixtureTensors('mlp-oft', 'io.safetensors');
    const saved = await loadFixtureTensors('mlp-oft', 'adapter', 'adapter_model.safetensors');
    const config = JSON.parse(readFileSync(peftFixturePath('mlp-oft', 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = oft.serializeConfig(oft.parseConfig(config));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(config).sort());
    const model = await loadFixtureBaseModel('mlp-oft');
    const inputs = fixtureInputs(io);
    await assertClose(model.predict(inputs) as tf.Tensor, io.expected_base!, { atol, rtol, message: 'base' });
    const peftModel = new PeftModel(model, config);
    expect(peftModel.getStateDictShapes()).toEqual({ 'base_model.model.lin0.oft_r': [4, 5, 5], 'base_model.model.lin1.oft_r': [3, 7, 7] });
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
    await peftModel.mergeAdapter();
    await assertClose(peftModel.model.predict(inputs) as tf.Tensor, io.expected_merged!, { atol, rtol, message: 'merged' });
    // Unmerging multiplies by the inverse of the cut (non-orthogonal) rotation.
    peftModel.unmergeAdapter();
    await assertClose(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, { atol, rtol, message: 'unmerged' });
    const merged = await peftModel.mergeAndUnload();
    await assertClose(merged.predict(inputs) as tf.Tensor, io.expected_merged!, { atol, rtol, message: 'merge and unload' });
  });
});

describe('OFT behaviour', () => {
  it('coft projects oft_r in place on forward, as PEFT 0.11.1 does; block_share keeps one block', async () => {
    const peftModel = getPeftModel(mlp(), createOftConfig({ r: 2, targetModules: ['lin0'], coft: true, eps: 1e-4, blockShare: true, initWeights: false }));
    const layer = peftModel.model.getLayer('lin0') as OftLayer;
    const param = layer.adapterParameters('default').get('oft_r.default')!;
    expect(param.torchShape).toEqual([1, 5, 5]);
    const x = mlpInputs();
    tf.dispose(peftModel.model.predict(x) as tf.Tensor);
    const norm = tf.tidy(() => tf.norm(param.variable.read()));
    // eps' = eps·n²/√blocks = 1e-4·25/1
    expect((await norm.data())[0]).toBeCloseTo(2.5e-3, 6);
    tf.dispose([norm, x]);
  });

  it('refuses a layer it cannot adapt with a clear error and leaves the model as it was', () => {
    const model = mlp();
    expect(() => getPeftModel(model, { peft_type: 'OFT', target_modules: ['relu0'] })).toThrow(UnsupportedLayerError);
    expect(model.layers.some((layer) => TunerLayer.isTunerLayer(layer))).toBe(false);
  });

  it('trains: a regression towards rotated targets loses loss, base weights stay', async () => {
    const model = mlp();
    const peftModel = getPeftModel(model, { peft_type: 'OFT', r: 2, target_modules: ['lin0', 'lin1', 'lin2'] });
    const kernel = await model.getLayer('lin1').getWeights()[0]!.data();
    const x = tf.randomNormal([32, 6], 0, 1, 'float32', 3);
    const y = tf.tidy(() => tf.reverse(peftModel.model.predict(x) as tf.Tensor, 1));
    peftModel.model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const history = await peftModel.model.fit(x, y, { epochs: 15, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
    const lin1 = peftModel.model.getLayer('lin1') as OftLayer;
    expect(await lin1.kernel.read().data()).toEqual(kernel);
    tf.dispose([x, y]);
  });
});

describe('OFT over another tuner layer (mixed adapter types)', () => {
  it("rotates the wrapped layer's output around the innermost bias, and merges into the innermost kernel", async () => {
    registerTuner(lora);
    const peftModel = getPeftModel(mlp(), { peft_type: 'LORA', r: 2, target_modules: ['lin1'], init_lora_weights: false });
    const inner = peftModel.model.getLayer('lin1') as LoraDense;
    const outer = new OftDense({ baseLayer: inner });
    outer.addAdapter('rotation', { r: 3, moduleDropout: 0, initWeights: false, coft: false, eps: 6e-5, blockShare: false });
    outer.setActiveAdapters(['rotation']);
    const x = tf.randomNormal([3, 10], 0, 1, 'float32', 41);
    const bias = inner.baseLayer.getWeights()[1]!;
    const rotation = outer.rotation('rotation');
    const expected = tf.tidy(() => tf.add(tf.matMul(tf.sub(inner.apply(x) as tf.Tensor, bias), rotation), bias));
    // The first inference pass caches the rotation blocks; later passes make nothing that stays.
    tf.dispose(outer.apply(x) as tf.Tensor);
    const before = tf.memory().numTensors;
    const actual = outer.apply(x) as tf.Tensor;
    await assertClose(actual, expected, { atol: 1e-5, rtol: 1e-5, message: 'nested forward' });
    actual.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const kernel = inner.kernel.read().clone();
    await outer.merge();
    await assertClose(inner.kernel.read(), tf.matMul(kernel as tf.Tensor2D, rotation), { atol: 1e-5, rtol: 1e-5, message: 'merged innermost kernel' });
    outer.unmerge();
    await assertClose(inner.kernel.read(), kernel, { atol: 1e-5, rtol: 1e-5, message: 'unmerged innermost kernel' });
    tf.dispose([x, rotation, expected, kernel]);
  });
});
