import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterFormatError, getPeftModel, NoSuchAdapterError, registerTuner, setModelInfo, setWarningHandler, type PeftModel } from '@peftjs/core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
// A third-party tuner (a learned scale on Dense outputs), the same one core's tests use: hub
// cannot depend on a method package, and this one implements only TunerV1.
import { outputScale } from 'peftjs-tuner-output-scale';
import { AdapterFolderError } from '../errors/adapter-folder-error';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { pushFolderToHub } from '../hub/push-folder-to-hub';
import { loadSafetensorsData, readSafetensorsHeader } from '../safetensors/load-safetensors';
import { saveSafetensors } from '../safetensors/save-safetensors';
import { startFakeHub, type FakeHub } from '../testing/fake-hub';
import { fromPretrained } from './from-pretrained';
import { loadAdapter } from './load-adapter';
import { readAdapterConfig } from './read-adapter-config';
import { savePretrained } from './save-pretrained';

const TOKEN = 'hf_adapter_tests';
let root: string;
let hub: FakeHub;
let caseNumber = 0;
let tensorsBefore: number;
let dir: string;

/** The same base model every time (fixed initializer seeds). */
function baseModel(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
  const input = tfl.input({ shape: [4] });
  const hidden = tfl.layers.dense({ units: 5, name: 'lin0', activation: 'relu', kernelInitializer: init(1), biasInitializer: init(2) }).apply(input) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 3, name: 'lin1', kernelInitializer: init(3), biasInitializer: init(4) }).apply(hidden) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: output });
  setModelInfo(model, { nameOrPath: 'org/tiny-base' });
  return model;
}

/** A PeftModel with a "default" adapter on lin0 and lin1 and an "other" on lin1, with distinct non-trivial scales. */
function trainedPeftModel(): PeftModel {
  const peftModel = getPeftModel(baseModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['lin0', 'lin1'] });
  peftModel.addAdapter('other', { peft_type: 'OUTPUT_SCALE', target_modules: ['lin1'] });
  let seed = 10;
  for (const [name, param] of peftModel.namedParameters()) {
    if (name.includes('scale_vector')) {
      const value = tf.randomUniform(param.variable.shape as number[], 0.5, 1.5, 'float32', seed++);
      param.variable.write(value);
      value.dispose();
    }
  }
  return peftModel;
}

const input = () =>
  tf.tensor2d([
    [0.5, -1, 2, 0.25],
    [1, 1, -0.5, 0],
  ]);

async function outputOf(model: tfl.LayersModel | PeftModel): Promise<number[][]> {
  const x = input();
  const y = ('peftConfig' in model ? model.model : model).predict(x) as tf.Tensor;
  const values = (await y.array()) as number[][];
  tf.dispose([x, y]);
  return values;
}

/** Frees the adapted model's variables: its base layers and the adapters' own. */
function disposePeftModel(peftModel: PeftModel): void {
  peftModel.model.dispose();
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(outputScale);
  root = await mkdtemp(join(tmpdir(), 'peftjs-hub-adapter-'));
  hub = await startFakeHub({ tokens: [TOKEN] });
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  caseNumber++;
  dir = join(root, `case-${caseNumber}`);
  vi.stubEnv('HF_HOME', join(root, 'no-home'));
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  vi.unstubAllEnvs();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('savePretrained', () => {
  it('writes the files PEFT writes: default adapter in the folder, others in sub-folders', async () => {
    const peftModel = trainedPeftModel();
    const saved = await savePretrained(peftModel, dir);
    expect(saved).toEqual([
      { adapterName: 'default', folder: dir, files: ['adapter_model.safetensors', 'adapter_config.json'] },
      { adapterName: 'other', folder: join(dir, 'other'), files: ['adapter_model.safetensors', 'adapter_config.json'] },
    ]);
    expect((await readdir(dir)).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'other']);
    expect((await readdir(join(dir, 'other'))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);

    const header = await readSafetensorsHeader(join(dir, 'adapter_model.safetensors'));
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.map((info) => [info.name, info.dtype, info.shape])).toEqual([
      ['base_model.model.lin0.scale_vector', 'F32', [5]],
      ['base_model.model.lin1.scale_vector', 'F32', [3]],
    ]);
    const other = await loadSafetensorsData(join(dir, 'other', 'adapter_model.safetensors'));
    expect(Object.keys(other)).toEqual(['base_model.model.lin1.scale_vector']);

    const configText = await readFile(join(dir, 'adapter_config.json'), 'utf8');
    const config = JSON.parse(configText) as Record<string, unknown>;
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    expect(configText).toBe(JSON.stringify(config, null, 2));
    expect(config).toMatchObject({ peft_type: 'OUTPUT_SCALE', inference_mode: true, base_model_name_or_path: 'org/tiny-base', target_modules: ['lin0', 'lin1'] });
    // In memory the adapter stays trainable: only the file says inference_mode.
    expect(peftModel.peftConfig.default.inferenceMode).toBe(false);

    const card = await readFile(join(dir, 'README.md'), 'utf8');
    expect(card.startsWith('---\nbase_model: org/tiny-base\nlibrary_name: peft\n---\n')).toBe(true);
    expect(card).toContain('### Framework versions');
    disposePeftModel(peftModel);
  });

  it('saves only the selected adapters, and keeps an existing model card’s content', async () => {
    const peftModel = trainedPeftModel();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'README.md'), '---\nlicense: mit\ntags:\n- a\nlibrary_name: transformers\n---\n\n# My adapter\n\nNotes.\n');
    await savePretrained(peftModel, dir, { selectedAdapters: ['other'] });
    expect((await readdir(dir)).sort()).toEqual(['README.md', 'other']);
    const card = await readFile(join(dir, 'README.md'), 'utf8');
    expect(card).toMatch(/^---\nbase_model: org\/tiny-base\nlibrary_name: peft\nlicense: mit\ntags:\n- a\n---\n/);
    expect(card).toContain('# My adapter\n\nNotes.');
    await savePretrained(peftModel, dir, { selectedAdapters: ['other'] });
    expect((await readFile(join(dir, 'README.md'), 'utf8')).match(/Framework versions/g)).toHaveLength(1);
    disposePeftModel(peftModel);
  });

  it('refuses unknown adapters and names that would escape the folder, before writing anything', async () => {
    const peftModel = trainedPeftModel();
    await expect(savePretrained(peftModel, dir, { selectedAdapters: ['default', 'nope'] })).rejects.toThrow(NoSuchAdapterError);
    peftModel.addAdapter('evil/name', { peft_type: 'OUTPUT_SCALE', target_modules: ['lin0'] });
    await expect(savePretrained(peftModel, dir)).rejects.toSatisfy((error) => InvalidHubArgumentError.isInstance(error) && error.message.includes('"evil/name"'));
    await expect(readdir(dir)).rejects.toThrow();
    disposePeftModel(peftModel);
  });

  it('writes F16 weights when asked', async () => {
    const peftModel = trainedPeftModel();
    await savePretrained(peftModel, dir, { floatDtype: 'F16', selectedAdapters: ['default'] });
    expect((await readSafetensorsHeader(join(dir, 'adapter_model.safetensors'))).tensors.map((info) => info.dtype)).toEqual(['F16', 'F16']);
    disposePeftModel(peftModel);
  });
});

describe('fromPretrained and loadAdapter', () => {
  it('restores the adapted outputs on a fresh base model, frozen unless trainable', async () => {
    const original = trainedPeftModel();
    const expected = await outputOf(original);
    await savePretrained(original, dir);
    disposePeftModel(original);

    const loaded = await fromPretrained(baseModel(), dir);
    expect(loaded.adapterNames).toEqual(['default']);
    expect(loaded.activeAdapter).toBe('default');
    const actual = await outputOf(loaded);
    actual.forEach((row, index) => row.forEach((value, column) => expect(value).toBeCloseTo(expected[index][column], 6)));
    expect(loaded.getNbTrainableParameters()[0]).toBe(0);
    expect(loaded.peftConfig.default.inferenceMode).toBe(true);
    disposePeftModel(loaded);

    const trainable = await fromPretrained(baseModel(), dir, { isTrainable: true });
    expect(trainable.getNbTrainableParameters()[0]).toBe(8);
    disposePeftModel(trainable);
  });

  it('loads a second adapter from a sub-folder without activating it', async () => {
    const original = trainedPeftModel();
    original.setAdapter('other');
    const expectedOther = await outputOf(original);
    await savePretrained(original, dir);
    disposePeftModel(original);

    const loaded = await fromPretrained(baseModel(), dir);
    const before = await outputOf(loaded);
    await loadAdapter(loaded, dir, 'other', { subfolder: 'other' });
    expect(loaded.adapterNames).toEqual(['default', 'other']);
    expect(loaded.activeAdapter).toBe('default');
    expect(await outputOf(loaded)).toEqual(before);
    loaded.setAdapter('other');
    const actual = await outputOf(loaded);
    actual.forEach((row, index) => row.forEach((value, column) => expect(value).toBeCloseTo(expectedOther[index][column], 6)));
    await loadAdapter(loaded, join(dir, 'other'), 'again');
    expect(loaded.adapterNames).toEqual(['default', 'other', 'again']);
    disposePeftModel(loaded);
  });

  it('names a missing tensor, leaves the model unchanged and the base model as it was', async () => {
    const original = trainedPeftModel();
    await savePretrained(original, dir);
    disposePeftModel(original);
    const tensors = await loadSafetensorsData(join(dir, 'adapter_model.safetensors'));
    await saveSafetensors(
      join(dir, 'adapter_model.safetensors'),
      { 'base_model.model.lin0.scale_vector': tensors['base_model.model.lin0.scale_vector'] },
      { metadata: { format: 'pt' } },
    );

    const base = baseModel();
    const baseOutput = await outputOf(base);
    const baseTrainable = base.weights.map((weight) => weight.trainable);
    const countBefore = tf.memory().numTensors;
    await expect(fromPretrained(base, dir)).rejects.toSatisfy(
      (error) => AdapterFormatError.isInstance(error) && error.tensorName === 'lin1.scale_vector.default' && error.message.includes('missing 1 tensor'),
    );
    expect(tf.memory().numTensors).toBe(countBefore);
    expect(base.weights.map((weight) => weight.trainable)).toEqual(baseTrainable);
    expect(await outputOf(base)).toEqual(baseOutput);

    const peftModel = trainedPeftModel();
    const output = await outputOf(peftModel);
    const countWithModel = tf.memory().numTensors;
    await expect(loadAdapter(peftModel, dir, 'broken')).rejects.toThrow(AdapterFormatError);
    expect(peftModel.adapterNames).toEqual(['default', 'other']);
    expect(peftModel.activeAdapters).toEqual(['default']);
    expect(await outputOf(peftModel)).toEqual(output);
    expect(tf.memory().numTensors).toBe(countWithModel);
    // The failed attempt's models still count as users of the base layers (tfjs reference
    // counting), so base.dispose() would keep them: free the base weights directly.
    for (const weight of base.weights) weight.dispose();
    disposePeftModel(peftModel);
  });

  it('names a tensor with the wrong shape and both shapes; warns about unexpected tensors', async () => {
    const original = trainedPeftModel();
    await savePretrained(original, dir, { selectedAdapters: ['default'] });
    disposePeftModel(original);
    const path = join(dir, 'adapter_model.safetensors');
    const tensors = await loadSafetensorsData(path);
    await saveSafetensors(path, { ...tensors, 'base_model.model.lin1.scale_vector': { dtype: 'float32', shape: [4], values: new Float32Array(4) } });
    const peftModel = trainedPeftModel();
    await expect(loadAdapter(peftModel, dir, 'wrong')).rejects.toSatisfy(
      (error) =>
        AdapterFormatError.isInstance(error) && error.tensorName === 'base_model.model.lin1.scale_vector' && error.message.includes('[4]') && error.message.includes('[3]'),
    );
    expect(peftModel.adapterNames).toEqual(['default', 'other']);

    await saveSafetensors(path, { ...tensors, 'base_model.model.extra.scale_vector': { dtype: 'float32', shape: [2], values: new Float32Array(2) } });
    const warnings: string[] = [];
    const previous = setWarningHandler((message) => warnings.push(message));
    try {
      await loadAdapter(peftModel, dir, 'extra');
    } finally {
      setWarningHandler(previous);
    }
    expect(peftModel.adapterNames).toContain('extra');
    expect(warnings.join('\n')).toContain('base_model.model.extra.scale_vector');
    disposePeftModel(peftModel);
  });

  it('explains folders without the files PEFT writes', async () => {
    const peftModel = trainedPeftModel();
    await mkdir(join(dir, 'empty'), { recursive: true });
    await expect(loadAdapter(peftModel, join(dir, 'empty'), 'x')).rejects.toSatisfy((error) => AdapterFolderError.isInstance(error) && error.file === 'adapter_config.json');
    await mkdir(join(dir, 'pickle'), { recursive: true });
    await writeFile(join(dir, 'pickle', 'adapter_config.json'), '{"peft_type":"OUTPUT_SCALE","target_modules":["lin0"]}');
    await writeFile(join(dir, 'pickle', 'adapter_model.bin'), 'not read');
    await expect(loadAdapter(peftModel, join(dir, 'pickle'), 'x')).rejects.toSatisfy(
      (error) => AdapterFolderError.isInstance(error) && error.message.includes('safe_serialization=True'),
    );
    await writeFile(join(dir, 'pickle', 'adapter_config.json'), '[1]');
    await expect(readAdapterConfig(join(dir, 'pickle'))).rejects.toThrow(/not a JSON object/);
    await expect(loadAdapter(peftModel, dir, 'x', { subfolder: '../escape' })).rejects.toThrow(InvalidHubArgumentError);
    await expect(loadAdapter(peftModel, 'not a folder nor a repo', 'x')).rejects.toThrow(InvalidHubArgumentError);
    expect(peftModel.adapterNames).toEqual(['default', 'other']);
    disposePeftModel(peftModel);
  });

  it('reads a Python-written adapter config as is', async () => {
    const config = await readAdapterConfig(join(__dirname, '../../../../test-fixtures/peft/gpt2-lora/adapter'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, target_modules: ['c_attn'], inference_mode: true });
  });

  it('round-trips through the Hub: push the folder, load by repo id (and sub-folder)', async () => {
    const original = trainedPeftModel();
    const expected = await outputOf(original);
    original.setAdapter('other');
    const expectedOther = await outputOf(original);
    await savePretrained(original, dir);
    disposePeftModel(original);
    const repoId = `me/adapter-${caseNumber}`;
    await pushFolderToHub(dir, repoId, { endpoint: hub.url, token: TOKEN });

    const options = { endpoint: hub.url, token: TOKEN, cacheDir: join(root, `cache-${caseNumber}`) };
    const loaded = await fromPretrained(baseModel(), repoId, options);
    (await outputOf(loaded)).forEach((row, index) => row.forEach((value, column) => expect(value).toBeCloseTo(expected[index][column], 6)));
    await loadAdapter(loaded, repoId, 'other', { ...options, subfolder: 'other' });
    loaded.setAdapter('other');
    (await outputOf(loaded)).forEach((row, index) => row.forEach((value, column) => expect(value).toBeCloseTo(expectedOther[index][column], 6)));
    // Only the adapter files were downloaded, not README.md.
    const snapshots = await readdir(join(root, `cache-${caseNumber}`, `models--me--adapter-${caseNumber}`, 'snapshots'));
    const files = await readdir(join(root, `cache-${caseNumber}`, `models--me--adapter-${caseNumber}`, 'snapshots', snapshots[0]), { recursive: true });
    expect(files.map(String).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'other',
      join('other', 'adapter_config.json'),
      join('other', 'adapter_model.safetensors'),
    ]);
    // And offline, from the cache.
    const offline = await fromPretrained(baseModel(), repoId, { ...options, offline: true });
    expect(offline.adapterNames).toEqual(['default']);
    disposePeftModel(loaded);
    disposePeftModel(offline);
  });
});
