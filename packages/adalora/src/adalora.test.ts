import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, InvalidConfigError, registerTuner, setModelInfo, setWarningHandler, type PeftModel } from '@peftjs/core';
import { assertClose, describeTunerConformance } from '@peftjs/core/testing';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { FanInFanOutDense } from './__fixtures__/fan-in-fan-out-dense';
import { adalora, AdaLoraDense, createAdaloraConfig, disposeRankAllocator, orthogonalRegularization, RankAllocator, updateAndAllocate } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(adalora);
  setWarningHandler(() => {});
});

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });

function mlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [6] });
  let h = tfl.layers.dense({ units: 8, name: 'lin0', kernelInitializer: init(1), biasInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'relu0' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 8, name: 'lin1', activation: 'tanh', kernelInitializer: init(3), biasInitializer: init(4) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3, name: 'lin2', kernelInitializer: init(5), biasInitializer: init(6) }).apply(h) as tfl.SymbolicTensor });
}

/** GPT-2's Conv1D (kernel [in, out] in torch too) on a sequence. */
function conv1dNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [3, 6] });
  const h = new FanInFanOutDense({ name: 'c_attn', units: 9, kernelInitializer: init(7), biasInitializer: init(8) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 2, name: 'head', kernelInitializer: init(9) }).apply(h) as tfl.SymbolicTensor });
}

const mlpInputs = () => tf.randomNormal([4, 6], 0, 1, 'float32', 11);
const sequenceInputs = () => tf.randomNormal([2, 3, 6], 0, 1, 'float32', 12);

describeTunerConformance(adalora, [
  {
    name: 'Dense, list targets (a tanh Dense included)',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { init_r: 4, target_r: 2, lora_alpha: 8, target_modules: ['lin0', 'lin1'] },
    otherConfig: { init_r: 3, target_modules: ['lin1', 'lin2'], inference_mode: true },
  },
  {
    name: 'Dense, regex, dropout, a rank pattern',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { init_r: 3, lora_alpha: 4, lora_dropout: 0.1, target_modules: 'lin[02]', rank_pattern: { 'lin0.lora_E': [true, false, true] } },
    otherConfig: { init_r: 2, target_modules: ['lin0'], inference_mode: true },
  },
  {
    name: 'Dense, bias lora_only + modules_to_save',
    makeModel: mlp,
    makeInputs: mlpInputs,
    config: { init_r: 2, target_modules: ['lin0'], bias: 'lora_only', modules_to_save: ['lin2'] },
    otherConfig: { init_r: 2, target_modules: ['lin1'], inference_mode: true },
  },
  {
    name: 'GPT-2 Conv1D (fan_in_fan_out)',
    makeModel: conv1dNet,
    makeInputs: sequenceInputs,
    config: { init_r: 3, target_modules: ['c_attn'], fan_in_fan_out: true },
    otherConfig: { init_r: 2, target_modules: ['c_attn', 'head'], inference_mode: true },
  },
]);

describe('AdaLoRA config', () => {
  it('reads and writes the keys PEFT writes, rank_pattern as booleans', () => {
    const python = JSON.parse(readFileSync(peftFixturePath('llama-adalora', 'adapter', 'adapter_config.json'), 'utf8'));
    const parsed = adalora.parseConfig(python);
    expect(parsed.initR).toBe(6);
    expect(parsed.deltaT).toBe(1);
    expect(parsed.rankPattern!['model.layers.1.self_attn.q_proj.lora_E']).toEqual([false, false, false, false, false, false]);
    const ours = adalora.serializeConfig(parsed);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
    expect({ ...ours, target_modules: new Set(ours.target_modules as string[]) }).toEqual({ ...python, target_modules: new Set(python.target_modules) });
  });

  it('has PEFT 0.11.1 defaults and refuses what AdaLoRA refuses, naming the field', () => {
    const config = createAdaloraConfig();
    expect([
      config.targetR,
      config.initR,
      config.tinit,
      config.tfinal,
      config.deltaT,
      config.beta1,
      config.beta2,
      config.orthRegWeight,
      config.totalStep,
      config.rankPattern,
    ]).toEqual([8, 12, 0, 0, 1, 0.85, 0.85, 0.5, null, null]);
    expect(() => createAdaloraConfig({ beta1: 1 } as never)).toThrow(/beta1.*strictly between 0 and 1/);
    expect(() => adalora.parseConfig({ use_dora: true })).toThrow(/does not support DoRA/);
    expect(() => adalora.parseConfig({ loftq_config: { loftq_bits: 4 } })).toThrow(/does not support LOFTQ/);
    expect(() => adalora.parseConfig({ rank_pattern: { 'a.lora_E': [1, 'x'] } })).toThrow(InvalidConfigError);
    expect(() => adalora.parseConfig({ target_modules: 'q.*', layers_to_transform: [0] })).toThrow(/layers_to_transform/);
  });

  it('fills llama defaults (q_proj, v_proj) and allows one trainable adapter only', () => {
    const x = tfl.input({ shape: [4] });
    let h = x;
    for (const name of ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj', 'lm_head']) {
      h = tfl.layers.dense({ units: 4, name }).apply(h) as tfl.SymbolicTensor;
    }
    const model = tfl.model({ inputs: x, outputs: h });
    setModelInfo(model, { modelType: 'llama' });
    const peftModel = getPeftModel(model, { peft_type: 'ADALORA', init_r: 2 });
    expect(peftModel.targetedModuleNames).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj']);
    expect(() => peftModel.addAdapter('second', { peft_type: 'ADALORA', init_r: 2 })).toThrow(/only 1 trainable adapter/);
    expect(() => peftModel.addAdapter('second', { peft_type: 'ADALORA', init_r: 2, inference_mode: true, bias: 'all' })).toThrow(/only 1 adapter with bias/);
    peftModel.addAdapter('second', { peft_type: 'ADALORA', init_r: 2, inference_mode: true });
    expect(peftModel.adapterNames).toEqual(['default', 'second']);
  });
});

describe('AdaLoRA math', () => {
  it('forward and merge follow ΔW = B·(A ⊙ E)·α/(init_r + 1e-5); ranks stay init_r after pruning', async () => {
    const model = mlp();
    const peftModel = getPeftModel(model, {
      peft_type: 'ADALORA',
      init_r: 3,
      lora_alpha: 5,
      target_modules: ['lin2'],
      init_lora_weights: false,
      rank_pattern: { 'lin2.lora_E': [true, false, true] },
    });
    const layer = getLayerByPath(peftModel.model, 'lin2') as AdaLoraDense;
    const { a, e, b } = layer.triplets('default');
    expect(Math.abs((await e.read().data())[1]!)).toBe(0);
    const x = tf.randomNormal([5, 8], 0, 1, 'float32', 3);
    const baseOut = layer.baseLayer.apply(x) as tf.Tensor;
    const expected = tf.tidy(() => tf.add(baseOut, tf.mul(tf.matMul(tf.matMul(x, tf.mul(a.read(), e.read()), false, true), b.read(), false, true), 5 / (3 + 1e-5))));
    await assertClose(layer.apply(x) as tf.Tensor, expected, { atol: 1e-5, rtol: 1e-5 });
    // The state dict holds the two kept triplets only.
    expect(peftModel.getStateDictShapes()).toEqual({ 'base_model.model.lin2.lora_A': [2, 8], 'base_model.model.lin2.lora_B': [3, 2], 'base_model.model.lin2.lora_E': [2, 1] });
    await peftModel.mergeAdapter();
    await assertClose(layer.apply(x) as tf.Tensor, expected, { atol: 1e-5, rtol: 1e-5 });
  });

  it('the orthogonality regulariser is the mean ‖A·Aᵀ − I‖_F, ‖Bᵀ·B − I‖_F, and training hooks add it weighted', async () => {
    const peftModel = getPeftModel(mlp(), { peft_type: 'ADALORA', init_r: 2, target_modules: ['lin0', 'lin1'], init_lora_weights: false, orth_reg_weight: 0.25, total_step: 10 });
    const terms: number[] = [];
    for (const path of ['lin0', 'lin1']) {
      const { a, b } = (getLayerByPath(peftModel.model, path) as AdaLoraDense).triplets('default');
      for (const product of [tf.matMul(a.read(), a.read(), false, true), tf.matMul(b.read(), b.read(), true, false)]) {
        const value = await tf.norm(tf.sub(product, tf.eye(2))).data();
        terms.push(value[0]!);
      }
    }
    const expected = terms.reduce((sum, term) => sum + term, 0) / terms.length;
    expect((await orthogonalRegularization(peftModel).data())[0]).toBeCloseTo(expected, 4);
    const extra = adalora.training!.extraLoss!({ peftModel, adapterName: 'default', globalStep: 1 })!;
    expect((await extra.data())[0]).toBeCloseTo(0.25 * expected, 4);
    const untimed = getPeftModel(mlp(), { peft_type: 'ADALORA', init_r: 2, target_modules: ['lin0'] });
    expect(() => adalora.training!.extraLoss!({ peftModel: untimed, adapterName: 'default', globalStep: 1 })).toThrow(/needs total_step/);
  });
});

/** Importance, mask and rank pattern on a known gradient: the allocator keeps the triplets with the largest |θ·∇θ|. */
describe('AdaLoRA rank allocation', () => {
  it("follows PEFT's cubic budget schedule (the llama-adalora run: 36 → 18 triplets)", () => {
    const json = peftCase('llama-adalora');
    const config = createAdaloraConfig({ initR: 6, targetR: 3, tinit: 1, tfinal: 3, totalStep: 10 });
    const layers = Array.from({ length: 6 }, () => ({ path: 'x', layer: { triplets: () => ({ a: { shape: [6, 16] } }) } as unknown as AdaLoraDense }));
    const allocator = new RankAllocator(config, 'default', layers);
    expect(Array.from({ length: 10 }, (_, step) => allocator.budgetSchedule(step).budget)).toEqual(json.adalora_training.budget_per_step);
    expect(allocator.budgetSchedule(1).maskIndicator).toBe(false);
    expect(allocator.budgetSchedule(2).maskIndicator).toBe(true);
  });

  async function trainedModel(): Promise<PeftModel> {
    return getPeftModel(mlp(), { peft_type: 'ADALORA', init_r: 4, target_r: 1, tinit: 0, tfinal: 1, total_step: 3, target_modules: ['lin0', 'lin1'], init_lora_weights: false });
  }

  it('prunes the least important triplets to the budget, then keeps them pruned; rank_pattern and saved shapes follow', async () => {
    const peftModel = await trainedModel();
    const layers = ['lin0', 'lin1'].map((path) => getLayerByPath(peftModel.model, path) as AdaLoraDense);
    // With gradients of ones every score grows with |θ|: lin0's triplet 2 and lin1's triplet 0 dominate.
    for (const [layer, scales] of [
      [layers[0]!, [0.1, 0.2, 5, 0.3]],
      [layers[1]!, [5, 0.1, 0.2, 0.3]],
    ] as const) {
      const { a, e, b } = layer.triplets('default');
      const scale = tf.tensor2d([...scales], [4, 1]);
      a.write(tf.mul(tf.ones(a.shape as number[]), scale));
      e.write(scale);
      b.write(tf.mul(tf.ones(b.shape as number[]), tf.transpose(scale)));
    }
    const gradients = new Map(peftModel.model.trainableWeights.map((weight) => [weight.name, tf.onesLike(weight.read())]));
    const before = tf.memory().numTensors;
    // Step 0 ≤ tinit: scores only. Step 1: budget ⌊(8 − 2)·0.5³ + 2⌋ = 2 → final at step 2 = total_step − tfinal.
    await updateAndAllocate(peftModel, 0, gradients);
    expect(layers.map((layer) => layer.rankMask('default'))).toEqual([null, null]);
    await updateAndAllocate(peftModel, 1, gradients);
    expect(layers.map((layer) => layer.rankMask('default'))).toEqual([
      [false, false, true, false],
      [true, false, false, false],
    ]);
    expect(Array.from(await layers[0]!.triplets('default').e.read().data())).toEqual([0, 0, 5, 0]);
    const config = peftModel.peftConfig.default as ReturnType<typeof createAdaloraConfig>;
    expect(config.rankPattern).toEqual({ 'lin0.lora_E': [false, false, true, false], 'lin1.lora_E': [true, false, false, false] });
    expect(peftModel.getStateDictShapes()['base_model.model.lin1.lora_B']).toEqual([8, 1]);
    await updateAndAllocate(peftModel, 2, gradients);
    // After the final allocation, a step that revives a pruned triplet is masked again.
    const { e } = layers[1]!.triplets('default');
    const revived = tf.ones([4, 1]);
    e.write(revived);
    revived.dispose();
    await updateAndAllocate(peftModel, 3, gradients);
    expect(Array.from(await e.read().data())).toEqual([1, 0, 0, 0]);
    disposeRankAllocator(peftModel);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...gradients.values()]);
  });

  it('names what is missing: total_step, a gradient, a trainable adapter', async () => {
    const noTotal = getPeftModel(mlp(), { peft_type: 'ADALORA', init_r: 2, target_modules: ['lin0'] });
    expect(() => updateAndAllocate(noTotal, 0, new Map())).toThrow(/total_step/);
    const peftModel = await trainedModel();
    expect(() => updateAndAllocate(peftModel, 0, new Map())).toThrow(/no gradient for "lin0\.lora_A\.default"/);
    const frozen = getPeftModel(mlp(), { peft_type: 'ADALORA', init_r: 2, target_modules: ['lin0'], inference_mode: true, total_step: 3 });
    expect(() => updateAndAllocate(frozen, 0, new Map())).toThrow(/no trainable AdaLoRA adapter/);
  });
});
