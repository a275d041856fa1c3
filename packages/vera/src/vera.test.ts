import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, InvalidConfigError, registerTuner, setModelInfo, setWarningHandler } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { createVeraConfig, TorchGenerator, vera, VERA_A_KEY, VERA_B_KEY, VERA_DEFAULT_TARGETS, veraProjectionValues } from './index';

const warnings: string[] = [];
beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(vera);
  setWarningHandler((message) => warnings.push(message));
});

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.4, seed });

/** Three Dense 8 → 8 layers (VeRA shares one pair, so targets must agree in shape) and a 8 → 3 head. */
function squareMlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [8] });
  let h = x;
  for (const [index, name] of ['lin0', 'lin1', 'lin2'].entries()) {
    h = tfl.layers
      .dense({ units: 8, name, activation: index === 1 ? 'relu' : undefined, kernelInitializer: init(index + 1), biasInitializer: init(index + 11) })
      .apply(h) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3, name: 'head', kernelInitializer: init(9) }).apply(h) as tfl.SymbolicTensor });
}

const mlpInputs = () => tf.randomNormal([4, 8], 0, 1, 'float32', 5);
const lambdaKeys = (paths: string[]) => paths.flatMap((path) => [`base_model.model.${path}.vera_lambda_b`, `base_model.model.${path}.vera_lambda_d`]);

describeTunerConformance(vera, [
  {
    name: 'Dense ×3 sharing one pair, saved projections',
    makeModel: squareMlp,
    makeInputs: mlpInputs,
    config: { r: 4, target_modules: ['lin0', 'lin1', 'lin2'] },
    otherConfig: { r: 4, target_modules: ['lin1'], d_initial: 0.5 },
    stateDictKeys: [...lambdaKeys(['lin0', 'lin1', 'lin2']), VERA_A_KEY, VERA_B_KEY],
  },
  {
    name: 'Dense, regenerated projections, dropout, modules_to_save',
    makeModel: squareMlp,
    makeInputs: mlpInputs,
    config: { r: 3, target_modules: 'lin[01]', save_projection: false, vera_dropout: 0.1, projection_prng_key: 7, modules_to_save: ['head'] },
  },
]);

describe('torch random numbers, bit for bit', () => {
  it('mt19937 gives the reference sequence', () => {
    const generator = new TorchGenerator(5489);
    expect([generator.nextUint32(), generator.nextUint32()]).toEqual([3499211612, 581869302]);
    // 10000th output of the standard generator (C++ std::mt19937 conformance value).
    const again = new TorchGenerator(5489);
    let last = 0;
    for (let i = 0; i < 10000; i++) last = again.nextUint32();
    expect(last).toBe(4123659995);
  });

  it('regenerates llama-vera vera_A / vera_B from projection_prng_key 0 exactly as torch did', async () => {
    const io = await loadFixtureTensors('llama-vera', 'io.safetensors');
    const saved = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    const { a, b } = veraProjectionValues(0, 8, 16, 16);
    expect(a).toEqual(await io.expected_vera_A!.data());
    expect(b).toEqual(await io.expected_vera_B!.data());
    expect(a).toEqual(await saved[VERA_A_KEY]!.data());
    expect(b).toEqual(await saved[VERA_B_KEY]!.data());
    tf.dispose([...Object.values(io), ...Object.values(saved)]);
  });
});

describe('VeRA config and targets', () => {
  it("has PEFT 0.11.1's VeRA table: the shared one without btlm, mistral, mixtral, gemma, and phi's q/v only", () => {
    const modelTypes = Object.keys(VERA_DEFAULT_TARGETS);
    expect(modelTypes).toHaveLength(27);
    for (const left of ['btlm', 'mistral', 'mixtral', 'gemma']) expect(modelTypes).not.toContain(left);
    expect(VERA_DEFAULT_TARGETS.phi.targetModules).toEqual(['q_proj', 'v_proj']);
    expect(VERA_DEFAULT_TARGETS.llama.targetModules).toEqual(['q_proj', 'v_proj']);
    expect(VERA_DEFAULT_TARGETS['blip-2'].targetModules).toEqual(['q', 'v', 'q_proj', 'v_proj']);
    expect(Object.isFrozen(VERA_DEFAULT_TARGETS)).toBe(true);
  });

  it('writes the keys PEFT writes', () => {
    const python = JSON.parse(readFileSync(peftFixturePath('llama-vera', 'adapter', 'adapter_config.json'), 'utf8'));
    const ours = vera.serializeConfig(vera.parseConfig(python));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
  });

  it('refuses targets of different shapes (PEFT 0.11.1 shares one pair) and leaves the model as it was', () => {
    const x = tfl.input({ shape: [8] });
    const h = tfl.layers.dense({ units: 8, name: 'a' }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 4, name: 'b' }).apply(h) as tfl.SymbolicTensor });
    const before = tf.memory().numTensors;
    expect(() => getPeftModel(model, createVeraConfig({ r: 2, targetModules: ['a', 'b'] }))).toThrow(/Expected shape \(8, 8\), got \(4, 8\)/);
    expect(tf.memory().numTensors).toBe(before);
    expect(model.getLayer('a').getClassName()).toBe('Dense');
  });

  it('needs one PRNG key and one save_projection for all adapters', () => {
    const peftModel = getPeftModel(squareMlp(), createVeraConfig({ r: 2, targetModules: ['lin0'] }));
    expect(() => peftModel.addAdapter('other', createVeraConfig({ r: 2, targetModules: ['lin1'], projectionPrngKey: 3 }))).toThrow(InvalidConfigError);
    expect(() => peftModel.addAdapter('other', createVeraConfig({ r: 2, targetModules: ['lin1'], saveProjection: false }))).toThrow(/saved for all adapters or none/);
  });

  it('fills llama defaults (q_proj, v_proj) and has none for mistral', () => {
    const build = () => {
      const x = tfl.input({ shape: [4] });
      let h = x;
      for (const name of ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'lm_head']) h = tfl.layers.dense({ units: 4, name }).apply(h) as tfl.SymbolicTensor;
      return tfl.model({ inputs: x, outputs: h });
    };
    const model = build();
    setModelInfo(model, { modelType: 'llama' });
    expect(getPeftModel(model, { peft_type: 'VERA', r: 2 }).targetedModuleNames).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj']);
    const mistral = build();
    setModelInfo(mistral, { modelType: 'mistral' });
    expect(() => getPeftModel(mistral, { peft_type: 'VERA', r: 2 })).toThrow(/no default targets/);
  });
});
