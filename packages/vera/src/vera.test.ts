import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, getLayerByPath, getPeftModel, InvalidConfigError, PeftModel, registerTuner, setModelInfo, setWarningHandler } from '@peftjs/core';
import { assertClose, describeTunerConformance, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, causalLmLoss, generate, GPT2Conv1D } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { createVeraConfig, TorchGenerator, vera, VERA_A_KEY, VERA_B_KEY, VeraDense, veraProjectionValues } from './index';

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
    h = tfl.layers.dense({ units: 8, name, activation: index === 1 ? 'relu' : undefined, kernelInitializer: init(index + 1), biasInitializer: init(index + 11) }).apply(h) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3, name: 'head', kernelInitializer: init(9) }).apply(h) as tfl.SymbolicTensor });
}

/** GPT-2-style Conv1D layers (torch weight `[in, out]`) on rank-3 inputs. */
function conv1dNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [4, 6] });
  const h = new GPT2Conv1D({ units: 6, name: 'c_attn', kernelInitializer: init(21), biasInitializer: init(22) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: new GPT2Conv1D({ units: 6, name: 'c_proj', kernelInitializer: init(23), biasInitializer: init(24) }).apply(h) as tfl.SymbolicTensor });
}

const mlpInputs = () => tf.randomNormal([4, 8], 0, 1, 'float32', 5);
const conv1dInputs = () => tf.randomNormal([2, 4, 6], 0, 1, 'float32', 6);
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
  { name: 'GPT-2 Conv1D (fan_in_fan_out), rank-3 inputs', makeModel: conv1dNet, makeInputs: conv1dInputs, config: { r: 2, target_modules: ['c_attn', 'c_proj'], fan_in_fan_out: true, save_projection: false } },
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

async function datasetLoss(model: tfl.LayersModel, rows: number[][]): Promise<number> {
  let weighted = 0;
  let tokens = 0;
  for (const row of rows) {
    const loss = tf.tidy(() => {
      const ids = tf.tensor2d([row], [1, row.length], 'int32');
      return causalLmLoss(ids, model.predict([ids, tf.onesLike(ids)]) as tf.Tensor);
    });
    weighted += (await loss.data())[0]! * (row.length - 1);
    tokens += row.length - 1;
    loss.dispose();
  }
  return weighted / tokens;
}

describe('VeRA on LLaMA, equal to Python PEFT (llama-vera)', () => {
  it('logits, disabled, greedy ids, data loss, merged logits and merged weights match', async () => {
    const json = peftCase('llama-vera');
    const { atol, rtol } = json;
    const io = await loadFixtureTensors('llama-vera', 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-vera', 'base'));
    const peftModel = await fromPretrained(base, peftFixturePath('llama-vera', 'adapter'));
    expect(peftModel.targetedModuleNames).toHaveLength(4);
    expect(peftModel.trainableParametersReport()).toMatch(/^trainable params: 0 \|\| all params: /);

    expect(await maxCloseViolation(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    expect(await maxCloseViolation(peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor), io.expected_disabled!, atol, rtol), 'disabled').toBe(0);
    const prompt = tf.cast(io.input_ids!, 'int32');
    const ids = await generate(peftModel.model, prompt, { maxNewTokens: json.generation.max_new_tokens, doSample: false, padTokenId: 0, eosTokenId: json.generation.eos_token_id });
    expect(ids).toEqual(await io[json.generation.adapted.tensor]!.array());
    const rows = readFileSync(peftFixturePath('llama-vera', 'data.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line).input_ids as number[]);
    const loss = await datasetLoss(peftModel.model, rows);
    expect(Math.abs(loss - json.expected_loss.adapted)).toBeLessThanOrEqual(atol + rtol * json.expected_loss.adapted);

    const saved = peftModel.getStateDict();
    const file = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    expect(Object.keys(saved).sort()).toEqual(Object.keys(file).sort());
    for (const key of Object.keys(file)) await assertClose(saved[key]!, file[key]!, { atol: 0, rtol: 0, message: key });

    const merged = await peftModel.mergeAndUnload();
    expect(await maxCloseViolation(merged.predict(inputs) as tf.Tensor, io.expected_merged!, atol, rtol), 'merged').toBe(0);
    const mergedFile = await loadFixtureTensors('llama-vera', 'merged', 'model.safetensors');
    for (const key of json.merged.changed_vs_base as string[]) {
      const path = key.replace(/\.weight$/, '');
      const kernel = getLayerByPath(merged, path)!.getWeights()[0]!;
      await assertClose(tf.transpose(kernel), mergedFile[key]!, { atol: 1e-6, rtol: 1e-6, message: key });
    }
    tf.dispose([...inputs, prompt, ...Object.values(io), ...Object.values(saved), ...Object.values(file), ...Object.values(mergedFile)]);
  });

  it('without saved projections, regenerates them from projection_prng_key: the same outputs', async () => {
    const io = await loadFixtureTensors('llama-vera', 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const config = { ...JSON.parse(readFileSync(peftFixturePath('llama-vera', 'adapter', 'adapter_config.json'), 'utf8')), save_projection: false };
    const { [VERA_A_KEY]: savedA, [VERA_B_KEY]: savedB, ...lambdas } = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    tf.dispose([savedA!, savedB!]);
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-vera', 'base'));
    const peftModel = new PeftModel(base, config);
    peftModel.loadStateDict(lambdas);
    expect(await maxCloseViolation(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, 1e-5, 1e-5), 'adapted').toBe(0);
    expect(Object.keys(peftModel.getStateDictShapes())).not.toContain(VERA_A_KEY);
    const layer = getLayerByPath(peftModel.model, 'model.layers.1.self_attn.v_proj') as VeraDense;
    expect(await layer.projectionsOf('default').a.data()).toEqual(await io.expected_vera_A!.data());
    tf.dispose([...inputs, ...Object.values(io)]);
  });

  it('refuses a file without the projections when save_projection is true, changing nothing', async () => {
    const config = JSON.parse(readFileSync(peftFixturePath('llama-vera', 'adapter', 'adapter_config.json'), 'utf8'));
    const { [VERA_A_KEY]: savedA, ...rest } = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    savedA!.dispose();
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-vera', 'base'));
    const peftModel = new PeftModel(base, config);
    const layer = getLayerByPath(peftModel.model, 'model.layers.0.self_attn.q_proj') as VeraDense;
    expect(layer).toBeInstanceOf(VeraDense);
    const before = await layer.adapterParameters('default').get('vera_lambda_b.default')!.variable.read().data();
    expect(() => peftModel.loadStateDict(rest)).toThrow(AdapterFormatError);
    expect(() => peftModel.loadStateDict(rest)).toThrow(/base_model\.vera_A/);
    expect(await layer.adapterParameters('default').get('vera_lambda_b.default')!.variable.read().data()).toEqual(before);
  });
});
