import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { loadEmbConvNet, loadMlp, readJson, readTensors } from './__fixtures__/peft-fixtures';
import { lora } from './index';

const ATOL = 1e-4;
const RTOL = 1e-4;
const report: string[] = [];

beforeAll(() => {
  registerTuner(lora);
});

afterAll(() => {
  console.log(`fixture parity (max |diff|):\n  ${report.join('\n  ')}`);
});

function predict(model: tfl.LayersModel | PeftModel, inputs: tf.Tensor | tf.Tensor[], options?: { adapterNames?: string[] }): tf.Tensor {
  const output = 'peftConfig' in model ? model.predict(inputs, options) : model.predict(inputs);
  return Array.isArray(output) ? output[0]! : output;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected|, records the max |diff|, and frees `actual`. */
async function expectMatches(label: string, actual: tf.Tensor, expected: tf.Tensor): Promise<void> {
  try {
    const difference = await maxAbsDifference(actual, expected);
    report.push(`[${tf.getBackend()}] ${label}: ${difference.toExponential(2)}`);
    expect(await maxCloseViolation(actual, expected, ATOL, RTOL), label).toBe(0);
  } finally {
    actual.dispose();
  }
}

/** The adapter config as JSON, with target_modules compared as a set (PEFT saves a set). */
function normalizeConfig(json: Record<string, unknown>): Record<string, unknown> {
  const targets = json.target_modules;
  return { ...json, target_modules: Array.isArray(targets) ? [...targets].sort() : targets };
}

/** getStateDict() must reproduce the saved tensors: same keys, shapes and values. */
async function expectStateDict(peftModel: PeftModel, adapterName: string, saved: Record<string, tf.Tensor>, label: string): Promise<void> {
  const stateDict = peftModel.getStateDict(adapterName);
  try {
    expect(Object.keys(stateDict).sort()).toEqual(Object.keys(saved).sort());
    let worst = 0;
    for (const [key, value] of Object.entries(saved)) {
      expect(stateDict[key]!.shape, key).toEqual(value.shape);
      worst = Math.max(worst, await maxAbsDifference(stateDict[key]!, value));
    }
    report.push(`[${tf.getBackend()}] ${label} state dict: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-7);
  } finally {
    tf.dispose(Object.values(stateDict));
  }
}

/** Frees a model's variables (LayersModel.dispose() keeps layers that other models still reference). */
function disposeWeights(model: tfl.LayersModel): void {
  for (const weight of model.weights) if (!weight.read().isDisposed) weight.dispose();
}

async function loadAdapter(
  peftModel: PeftModel | undefined,
  model: tfl.LayersModel,
  folder: string,
  adapterName: string,
): Promise<{ peftModel: PeftModel; config: Record<string, unknown>; tensors: Record<string, tf.Tensor> }> {
  const config = readJson(`${folder}/adapter_config.json`);
  const tensors = await readTensors(`${folder}/adapter_model.safetensors`);
  let target = peftModel;
  if (!target) target = getPeftModel(model, config, { adapterName });
  else target.addAdapter(adapterName, config);
  target.loadStateDict(tensors, adapterName);
  return { peftModel: target, config, tensors };
}

describe.each(['cpu', 'wasm'])('parity with Python PEFT 0.11.1 fixtures on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('mlp-lora: Linear LoRA forward, disable, merge, state dict and config', async () => {
    const before = tf.memory().numTensors;
    const io = await readTensors('mlp-lora/io.safetensors');
    const model = await loadMlp('mlp-lora');
    await expectMatches('mlp-lora base', predict(model, io.x!), io.expected_base!);
    const { peftModel, config, tensors } = await loadAdapter(undefined, model, 'mlp-lora/adapter', 'default');
    expect(normalizeConfig(lora.serializeConfig(peftModel.peftConfig.default as never))).toEqual(normalizeConfig(config));
    await expectStateDict(peftModel, 'default', tensors, 'mlp-lora');
    await expectMatches('mlp-lora adapted', predict(peftModel, io.x!), io.expected_adapted!);
    await expectMatches(
      'mlp-lora disabled',
      peftModel.disableAdapter(() => predict(peftModel, io.x!)),
      io.expected_disabled!,
    );
    const merged = await peftModel.mergeAndUnload();
    await expectMatches('mlp-lora merged', predict(merged, io.x!), io.expected_merged!);
    tf.dispose(Object.values(tensors));
    tf.dispose(Object.values(io));
    disposeWeights(merged);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mlp-lora-rslora-dora: rsLoRA scaling and DoRA magnitude, forward, merge and unmerge', async () => {
    const before = tf.memory().numTensors;
    const io = await readTensors('mlp-lora-rslora-dora/io.safetensors');
    const model = await loadMlp('mlp-lora-rslora-dora');
    const first = await loadAdapter(undefined, model, 'mlp-lora-rslora-dora/adapters/rslora', 'rslora');
    const peftModel = first.peftModel;
    const second = await loadAdapter(peftModel, model, 'mlp-lora-rslora-dora/adapters/dora', 'dora');
    for (const [name, loaded] of [
      ['rslora', first],
      ['dora', second],
    ] as const) {
      expect(normalizeConfig(lora.serializeConfig(peftModel.peftConfig[name] as never))).toEqual(normalizeConfig(loaded.config));
      await expectStateDict(peftModel, name, loaded.tensors, `mlp-lora-rslora-dora ${name}`);
      peftModel.setAdapter(name);
      await expectMatches(`mlp-lora-rslora-dora ${name}`, predict(peftModel, io.x!), io[`expected_${name}`]!);
      await peftModel.mergeAdapter();
      await expectMatches(`mlp-lora-rslora-dora merged ${name}`, predict(peftModel, io.x!), io[`expected_merged_${name}`]!);
      peftModel.unmergeAdapter();
      await expectMatches(`mlp-lora-rslora-dora unmerged ${name}`, predict(peftModel, io.x!), io[`expected_${name}`]!);
      await expectMatches(
        `mlp-lora-rslora-dora disabled (${name} active)`,
        peftModel.disableAdapter(() => predict(peftModel, io.x!)),
        io.expected_disabled!,
      );
    }
    const merged = await peftModel.mergeAndUnload({ adapterNames: ['dora'] });
    await expectMatches('mlp-lora-rslora-dora merge_and_unload dora', predict(merged, io.x!), io.expected_merged_dora!);
    tf.dispose([...Object.values(first.tensors), ...Object.values(second.tensors), ...Object.values(io)]);
    disposeWeights(merged);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('net-lora-conv-emb: Embedding and Conv2d LoRA (NCHW fixtures run as NHWC)', async () => {
    const before = tf.memory().numTensors;
    const io = await readTensors('net-lora-conv-emb/io.safetensors');
    const img = tf.transpose(io.img!, [0, 2, 3, 1]);
    const inputs = [io.ids!, img];
    const model = await loadEmbConvNet();
    await expectMatches('net-lora-conv-emb base', predict(model, inputs), io.expected_base!);
    const { peftModel, config, tensors } = await loadAdapter(undefined, model, 'net-lora-conv-emb/adapter', 'default');
    expect(normalizeConfig(lora.serializeConfig(peftModel.peftConfig.default as never))).toEqual(normalizeConfig(config));
    await expectStateDict(peftModel, 'default', tensors, 'net-lora-conv-emb');
    await expectMatches('net-lora-conv-emb adapted', predict(peftModel, inputs), io.expected_adapted!);
    await expectMatches(
      'net-lora-conv-emb disabled',
      peftModel.disableAdapter(() => predict(peftModel, inputs)),
      io.expected_disabled!,
    );
    const merged = await peftModel.mergeAndUnload();
    await expectMatches('net-lora-conv-emb merged', predict(merged, inputs), io.expected_merged!);
    tf.dispose([img, ...Object.values(tensors), ...Object.values(io)]);
    disposeWeights(merged);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mlp-multi-adapter: switching adapters, saved combinations, and mixed-adapter batches', async () => {
    const before = tf.memory().numTensors;
    const io = await readTensors('mlp-multi-adapter/io.safetensors');
    const model = await loadMlp('mlp-multi-adapter');
    let peftModel: PeftModel | undefined;
    const loaded: Array<Record<string, tf.Tensor>> = [];
    const names = ['adapter_a', 'adapter_b', 'combo_linear', 'combo_cat', 'combo_svd'];
    for (const name of names) {
      const result = await loadAdapter(peftModel, model, `mlp-multi-adapter/adapters/${name}`, name);
      peftModel = result.peftModel;
      loaded.push(result.tensors);
      expect(normalizeConfig(lora.serializeConfig(peftModel.peftConfig[name] as never))).toEqual(normalizeConfig(result.config));
    }
    for (const name of names) {
      peftModel!.setAdapter(name);
      await expectMatches(`mlp-multi-adapter ${name}`, predict(peftModel!, io.x!), io[`expected_${name}`]!);
      await peftModel!.mergeAdapter();
      await expectMatches(`mlp-multi-adapter merged ${name}`, predict(peftModel!, io.x!), io[`expected_merged_${name}`]!);
      peftModel!.unmergeAdapter();
    }
    await expectMatches(
      'mlp-multi-adapter disabled',
      peftModel!.disableAdapter(() => predict(peftModel!, io.x!)),
      io.expected_disabled!,
    );

    // Mixed batch: row i runs adapter names[i]; "__base__" runs none. Row 0 and row 1 of the fixtures' x.
    peftModel!.setAdapter('combo_cat');
    const rows = (tensor: tf.Tensor, index: number) => tf.slice(tensor, [index, 0], [1, -1]);
    for (const pair of [
      ['adapter_a', 'adapter_b'],
      ['__base__', 'combo_svd'],
      ['combo_linear', '__base__'],
    ]) {
      const output = predict(peftModel!, io.x!, { adapterNames: pair });
      for (const [index, name] of pair.entries()) {
        const expected = rows(io[name === '__base__' ? 'expected_base' : `expected_${name}`]!, index);
        await expectMatches(`mixed batch row ${index} (${name})`, rows(output, index), expected);
        expected.dispose();
      }
      output.dispose();
    }
    tf.dispose([...loaded.flatMap((tensors) => Object.values(tensors)), ...Object.values(io)]);
    disposeWeights(peftModel!.unload());
    expect(tf.memory().numTensors).toBe(before);
  });
});
