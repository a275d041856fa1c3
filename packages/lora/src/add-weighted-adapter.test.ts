import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterStateError, getLayerByPath, getPeftModel, InvalidConfigError, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation, perturbAdapter } from '@peftjs/core/testing';
import { mlp, mlpInputs } from './__fixtures__/models';
import { loadMlp, readJson, readTensors } from './__fixtures__/peft-fixtures';
import { addWeightedAdapter, COMBINATION_TYPES, createLoraConfig, lora, type AddWeightedAdapterOptions, type LoraLayer } from './index';
import { matrix, svdJacobi } from './svd';

const report: string[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

afterAll(() => {
  console.log(`add_weighted_adapter parity (max |diff|):\n  ${report.join('\n  ')}`);
});

function disposeWeights(model: tfl.LayersModel): void {
  for (const weight of model.weights) if (!weight.read().isDisposed) weight.dispose();
}

function layer(peftModel: PeftModel, path: string): LoraLayer {
  return getLayerByPath(peftModel.model, path) as LoraLayer;
}

/** ΔW of an adapter in a layer, torch orientation [out, in] (s·B·A). */
function delta(peftModel: PeftModel, path: string, adapterName: string): tf.Tensor2D {
  const target = layer(peftModel, path);
  const { a, b } = target.factors(adapterName);
  const result = tf.tidy(() => tf.mul(tf.matMul(b, a), target.adapterSettings(adapterName).scaling) as tf.Tensor2D);
  tf.dispose([a, b]);
  return result;
}

function quietly<T>(run: () => Promise<T>): Promise<T> {
  const previous = setWarningHandler(() => {});
  return run().finally(() => setWarningHandler(previous));
}

/** The fixture model with adapter_a and adapter_b loaded from the Python files. */
async function fixtureModel(): Promise<{ peftModel: PeftModel; dispose: () => void }> {
  const model = await loadMlp('mlp-multi-adapter');
  let peftModel: PeftModel | undefined;
  const loaded: tf.Tensor[] = [];
  for (const name of ['adapter_a', 'adapter_b']) {
    const config = readJson(`mlp-multi-adapter/adapters/${name}/adapter_config.json`);
    const tensors = await readTensors(`mlp-multi-adapter/adapters/${name}/adapter_model.safetensors`);
    if (!peftModel) peftModel = getPeftModel(model, config, { adapterName: name });
    else peftModel.addAdapter(name, config);
    peftModel.loadStateDict(tensors, name);
    loaded.push(...Object.values(tensors));
  }
  tf.dispose(loaded);
  return { peftModel: peftModel!, dispose: () => disposeWeights(peftModel!.unload()) };
}

const sortTargets = (json: Record<string, unknown>) => ({ ...json, target_modules: [...(json.target_modules as string[])].sort() });

describe('addWeightedAdapter against PEFT 0.11.1 (mlp-multi-adapter)', () => {
  const io = () => readTensors('mlp-multi-adapter/io.safetensors');

  for (const [name, options] of [
    ['combo_linear', { combinationType: 'linear', compatibility: 'peft-0.11.1' }],
    ['combo_cat', { combinationType: 'cat', compatibility: 'peft-0.11.1' }],
    ['combo_cat', { combinationType: 'cat' }],
  ] as Array<[string, AddWeightedAdapterOptions]>) {
    it(`${name} (${options.compatibility ?? 'exact'}) reproduces PEFT's factors, config and outputs`, async () => {
      const { peftModel, dispose } = await fixtureModel();
      const tensors = await io();
      const before = tf.memory().numTensors;
      await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, 0.3], name, options);
      expect(peftModel.activeAdapters).toEqual(['adapter_a']);
      expect(sortTargets(lora.serializeConfig(peftModel.peftConfig[name] as never))).toEqual(sortTargets(readJson(`mlp-multi-adapter/adapters/${name}/adapter_config.json`)));
      const saved = await readTensors(`mlp-multi-adapter/adapters/${name}/adapter_model.safetensors`);
      const state = peftModel.getStateDict(name);
      expect(Object.keys(state).sort()).toEqual(Object.keys(saved).sort());
      let worst = 0;
      for (const key of Object.keys(saved)) worst = Math.max(worst, await maxAbsDifference(state[key]!, saved[key]!));
      expect(worst).toBeLessThan(1e-6);
      peftModel.setAdapter(name);
      const output = peftModel.model.predict(tensors.x!) as tf.Tensor;
      const difference = await maxAbsDifference(output, tensors[`expected_${name}`]!);
      report.push(`${name} (${options.compatibility ?? 'exact'}): factors ${worst.toExponential(2)}, output ${difference.toExponential(2)}`);
      expect(await maxCloseViolation(output, tensors[`expected_${name}`]!, 1e-4, 1e-4)).toBe(0);
      tf.dispose([output, ...Object.values(state), ...Object.values(saved)]);
      peftModel.setAdapter('adapter_a');
      peftModel.deleteAdapter(name);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(Object.values(tensors));
      dispose();
    });
  }

  it('combo_svd (peft-0.11.1): the same B·A and outputs as PEFT (factors are sign-ambiguous)', async () => {
    const { peftModel, dispose } = await fixtureModel();
    const tensors = await io();
    await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, 0.3], 'combo_svd', { combinationType: 'svd', svdRank: 3, compatibility: 'peft-0.11.1' });
    expect(sortTargets(lora.serializeConfig(peftModel.peftConfig.combo_svd as never))).toEqual(sortTargets(readJson('mlp-multi-adapter/adapters/combo_svd/adapter_config.json')));
    const saved = await readTensors('mlp-multi-adapter/adapters/combo_svd/adapter_model.safetensors');
    for (const path of ['lin0', 'lin1']) {
      const expected = tf.matMul(saved[`base_model.model.${path}.lora_B.weight`]!, saved[`base_model.model.${path}.lora_A.weight`]!);
      const actual = delta(peftModel, path, 'combo_svd');
      const difference = await maxAbsDifference(actual, expected);
      report.push(`combo_svd (peft-0.11.1) ${path} B·A: ${difference.toExponential(2)}`);
      expect(difference).toBeLessThan(1e-5);
      tf.dispose([expected, actual]);
    }
    peftModel.setAdapter('combo_svd');
    const output = peftModel.model.predict(tensors.x!) as tf.Tensor;
    report.push(`combo_svd (peft-0.11.1) output: ${(await maxAbsDifference(output, tensors.expected_combo_svd!)).toExponential(2)}`);
    expect(await maxCloseViolation(output, tensors.expected_combo_svd!, 1e-4, 1e-4)).toBe(0);
    await peftModel.mergeAdapter();
    const merged = peftModel.model.predict(tensors.x!) as tf.Tensor;
    expect(await maxCloseViolation(merged, tensors.expected_merged_combo_svd!, 1e-4, 1e-4)).toBe(0);
    tf.dispose([output, merged, ...Object.values(saved), ...Object.values(tensors)]);
    dispose();
  });

  it('exact (default): linear and full-rank svd are Σ wᵢ·ΔWᵢ, and PEFT 0.11.1 is not', async () => {
    const { peftModel, dispose } = await fixtureModel();
    await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, -0.3], 'exact_linear', { combinationType: 'linear' });
    await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, -0.3], 'exact_svd', { combinationType: 'svd', svdRank: 8 });
    await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, 0.3], 'peft_linear', { combinationType: 'linear', compatibility: 'peft-0.11.1' });
    await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, 0.3], 'peft_svd', { combinationType: 'svd', svdRank: 8, compatibility: 'peft-0.11.1' });
    expect(peftModel.peftConfig.exact_linear).toMatchObject({ r: 8, loraAlpha: 8 });
    const before = tf.memory().numTensors;
    for (const path of ['lin0', 'lin1']) {
      const a = delta(peftModel, path, 'adapter_a');
      const b = delta(peftModel, path, 'adapter_b');
      const expectedSigned = tf.tidy(() => tf.add(tf.mul(a, 0.7), tf.mul(b, -0.3)));
      const expected = tf.tidy(() => tf.add(tf.mul(a, 0.7), tf.mul(b, 0.3)));
      for (const name of ['exact_linear', 'exact_svd']) {
        const actual = delta(peftModel, path, name);
        expect(await maxAbsDifference(actual, expectedSigned), `${name} ${path}`).toBeLessThan(1e-5);
        actual.dispose();
      }
      for (const name of ['peft_linear', 'peft_svd']) {
        const actual = delta(peftModel, path, name);
        expect(await maxAbsDifference(actual, expected), `${name} ${path} should show PEFT's defect`).toBeGreaterThan(1e-3);
        actual.dispose();
      }
      tf.dispose([a, b, expected, expectedSigned]);
    }
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  });

  it('exact svd with a smaller rank is the best rank-k approximation (Eckart–Young)', async () => {
    const { peftModel, dispose } = await fixtureModel();
    await addWeightedAdapter(peftModel, ['adapter_a', 'adapter_b'], [0.7, 0.3], 'rank3', { svdRank: 3 });
    const a = delta(peftModel, 'lin1', 'adapter_a');
    const b = delta(peftModel, 'lin1', 'adapter_b');
    const target = tf.tidy(() => tf.add(tf.mul(a, 0.7), tf.mul(b, 0.3)));
    const approximation = delta(peftModel, 'lin1', 'rank3');
    const residual = tf.tidy(() => tf.sum(tf.square(tf.sub(target, approximation))));
    const sigma = svdJacobi(matrix(target.shape[0]!, target.shape[1]!, await target.data())).s;
    const tail = sigma.slice(3).reduce((sum, value) => sum + value * value, 0);
    expect(Math.abs((await residual.data())[0]! - tail) / tail).toBeLessThan(1e-4);
    tf.dispose([a, b, target, approximation, residual]);
    dispose();
  });
});

describe('addWeightedAdapter rules', () => {
  async function threeAdapters(): Promise<PeftModel> {
    const peftModel = getPeftModel(mlp(), createLoraConfig({ r: 4, targetModules: ['lin0', 'lin1'] }), { adapterName: 'one' });
    peftModel.addAdapter('two', createLoraConfig({ r: 4, loraAlpha: 16, targetModules: ['lin1', 'lin2'] }));
    peftModel.addAdapter('wide', createLoraConfig({ r: 6, targetModules: ['lin0'] }));
    for (const [index, name] of ['one', 'two', 'wide'].entries()) await perturbAdapter(peftModel, name, 0.3, 10 + index);
    return peftModel;
  }

  it('runs every combination type; ranks follow PEFT; targets are the union; the new adapter is inactive and frozen', async () => {
    const peftModel = await threeAdapters();
    const x = mlpInputs();
    const before = tf.memory().numTensors;
    for (const combinationType of COMBINATION_TYPES) {
      const sources = ['linear', 'ties', 'dare_ties', 'dare_linear', 'magnitude_prune'].includes(combinationType) ? ['one', 'two'] : ['one', 'two', 'wide'];
      const name = `c_${combinationType}`;
      await quietly(() => addWeightedAdapter(peftModel, sources, [0.6, 0.4, 0.5].slice(0, sources.length), name, { combinationType, density: 0.5, seed: 1 }));
      const config = peftModel.peftConfig[name]!;
      const expectedRank = combinationType === 'cat' ? 14 : combinationType === 'linear' ? 8 : combinationType.endsWith('svd') ? 6 : 4;
      expect(config, combinationType).toMatchObject({ r: expectedRank, loraAlpha: expectedRank });
      expect([...(config as unknown as { targetModules: string[] }).targetModules].sort()).toEqual(sources.length === 3 ? ['lin0', 'lin1', 'lin2'] : ['lin0', 'lin1', 'lin2']);
      expect(peftModel.activeAdapters).toEqual(['one']);
      expect(peftModel.model.trainableWeights.some((weight) => weight.name.includes(name))).toBe(false);
      peftModel.setAdapter(name);
      const output = peftModel.model.predict(x) as tf.Tensor;
      expect(Number.isFinite((await output.data())[0]!)).toBe(true);
      output.dispose();
      peftModel.setAdapter('one');
      peftModel.deleteAdapter(name);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeWeights(peftModel.unload());
  });

  it('a single adapter is reweighted linearly, in both modes', async () => {
    const peftModel = await threeAdapters();
    for (const compatibility of ['exact', 'peft-0.11.1'] as const) {
      await addWeightedAdapter(peftModel, ['two'], [0.25], `single_${compatibility.replace(/\W/g, '_')}`, { combinationType: 'svd', compatibility });
      expect(peftModel.peftConfig[`single_${compatibility.replace(/\W/g, '_')}`]).toMatchObject({ r: 4 });
      for (const path of ['lin1', 'lin2']) {
        const source = delta(peftModel, path, 'two');
        const expected = tf.mul(source, 0.25);
        const actual = delta(peftModel, path, `single_${compatibility.replace(/\W/g, '_')}`);
        expect(await maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
        tf.dispose([source, expected, actual]);
      }
    }
    disposeWeights(peftModel.unload());
  });

  it('refuses what PEFT refuses, and more, without changing the model', async () => {
    const peftModel = await threeAdapters();
    const adapters = peftModel.adapterNames;
    const refuse = async (run: () => Promise<unknown>, pattern: RegExp) => {
      await expect(run()).rejects.toSatisfy(
        (error: unknown) => (InvalidConfigError.isInstance(error) || AdapterStateError.isInstance(error)) && pattern.test((error as Error).message),
      );
      expect(peftModel.adapterNames).toEqual(adapters);
    };
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'wide'], [1, 1], 'x', { combinationType: 'linear', compatibility: 'peft-0.11.1' }), /same r value/);
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'wide'], [1, 1], 'x', { combinationType: 'ties', density: 0.5 }), /same r value/);
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'two'], [1, 1], 'x', { combinationType: 'ties' }), /needs a density/);
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'two'], [1], 'x'), /2 adapters but 1 weights/);
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'two'], [1, 1], 'two'), /already exists/);
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'two'], [1, -1], 'x', { combinationType: 'linear', compatibility: 'peft-0.11.1' }), /negative/);
    await refuse(() => addWeightedAdapter(peftModel, ['one', 'two'], [1, 1], 'x', { combinationType: 'nope' as never }), /combination_type "nope"/);
    await expect(addWeightedAdapter(peftModel, ['one', 'missing'], [1, 1], 'x')).rejects.toThrow(/missing/);
    peftModel.addAdapter('dora', createLoraConfig({ targetModules: ['lin0'], useDora: true }));
    peftModel.addAdapter('regex', createLoraConfig({ targetModules: 'lin0' }));
    await expect(addWeightedAdapter(peftModel, ['one', 'dora'], [1, 1], 'x', { combinationType: 'cat' })).rejects.toThrow(/DoRA/);
    await expect(addWeightedAdapter(peftModel, ['one', 'regex'], [1, 1], 'x', { combinationType: 'cat' })).rejects.toThrow(/same target modules type/);
    peftModel.addAdapter('regex2', createLoraConfig({ targetModules: 'lin1' }));
    await addWeightedAdapter(peftModel, ['regex', 'regex2'], [1, 1], 'joined', { combinationType: 'cat' });
    expect(peftModel.peftConfig.joined).toMatchObject({ targetModules: '(lin0)|(lin1)' });
    disposeWeights(peftModel.unload());
  });
});
