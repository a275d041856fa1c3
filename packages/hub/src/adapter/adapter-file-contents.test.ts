import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterFormatError, getPeftModel, NoSuchAdapterError, registerTuner, setModelInfo, type PeftModel } from '@peftjs/core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
// The third-party tuner core's and the folder tests use: hub cannot depend on a method package.
import { outputScale } from 'peftjs-tuner-output-scale';
import { AdapterFolderError } from '../errors/adapter-folder-error';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { adapterFilesFromPeftModel, peftModelFromAdapterFiles } from './adapter-file-contents';
import { savePretrained } from './save-pretrained';

let root: string;
let tensorsBefore: number;

function baseModel(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
  const input = tfl.input({ shape: [4] });
  const hidden = tfl.layers.dense({ units: 5, name: 'lin0', activation: 'relu', kernelInitializer: init(1), biasInitializer: init(2) }).apply(input) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 3, name: 'lin1', kernelInitializer: init(3), biasInitializer: init(4) }).apply(hidden) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: output });
  setModelInfo(model, { nameOrPath: 'org/tiny-base' });
  return model;
}

function trainedPeftModel(): PeftModel {
  const peftModel = getPeftModel(baseModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['lin0', 'lin1'] });
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

async function outputOf(model: tfl.LayersModel): Promise<number[][]> {
  const x = tf.tensor2d([
    [0.5, -1, 2, 0.25],
    [1, 1, -0.5, 0],
  ]);
  const y = model.predict(x) as tf.Tensor;
  const values = (await y.array()) as number[][];
  tf.dispose([x, y]);
  return values;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(outputScale);
  root = await mkdtemp(join(tmpdir(), 'peftjs-hub-adapter-contents-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('adapterFilesFromPeftModel', () => {
  it('gives, in memory, exactly the bytes savePretrained writes', async () => {
    const peftModel = trainedPeftModel();
    const files = await adapterFilesFromPeftModel(peftModel);
    await savePretrained(peftModel, root, { modelCard: false });
    expect(files['adapter_config.json']).toBe(await readFile(join(root, 'adapter_config.json'), 'utf8'));
    expect(Buffer.from(files['adapter_model.safetensors']).equals(await readFile(join(root, 'adapter_model.safetensors')))).toBe(true);
    expect(JSON.parse(files['adapter_config.json'])).toMatchObject({ peft_type: 'OUTPUT_SCALE', inference_mode: true });
    peftModel.model.dispose();
  });

  it('refuses an adapter name the model does not have', async () => {
    const peftModel = trainedPeftModel();
    await expect(adapterFilesFromPeftModel(peftModel, { adapterName: 'nope' })).rejects.toSatisfy(NoSuchAdapterError.isInstance);
    peftModel.model.dispose();
  });
});

describe('peftModelFromAdapterFiles', () => {
  it('loads the files (bytes, text or Blobs) onto a fresh base with the same outputs', async () => {
    const peftModel = trainedPeftModel();
    const expected = await outputOf(peftModel.model);
    const files = await adapterFilesFromPeftModel(peftModel);
    const sources = [
      files,
      { 'adapter_config.json': new Blob([files['adapter_config.json']]), 'adapter_model.safetensors': new Blob([files['adapter_model.safetensors'] as BlobPart]) },
      { 'adapter_config.json': new TextEncoder().encode(files['adapter_config.json']), 'adapter_model.safetensors': files['adapter_model.safetensors'].slice().buffer },
    ];
    for (const source of sources) {
      const loaded = await peftModelFromAdapterFiles(baseModel(), source);
      expect(await outputOf(loaded.model)).toEqual(expected);
      expect(loaded.peftConfig.default.inferenceMode).toBe(true);
      expect(loaded.model.trainableWeights).toHaveLength(0);
      loaded.model.dispose();
    }
    const trainable = await peftModelFromAdapterFiles(baseModel(), files, { isTrainable: true, adapterName: 'mine' });
    expect(trainable.adapterNames).toEqual(['mine']);
    expect(trainable.model.trainableWeights.map((weight) => weight.name).every((name) => name.includes('scale_vector'))).toBe(true);
    trainable.model.dispose();
    peftModel.model.dispose();
  });

  it('says what is wrong with malformed files, before touching the model', async () => {
    const peftModel = trainedPeftModel();
    const files = await adapterFilesFromPeftModel(peftModel);
    const base = baseModel();
    const trainableBefore = base.weights.map((weight) => weight.trainable);
    await expect(peftModelFromAdapterFiles(base, { ...files, 'adapter_config.json': '{"peft_type": ' }, { label: 'my-adapter/' })).rejects.toSatisfy(
      (error: unknown) => AdapterFolderError.isInstance(error) && /adapter_config\.json is not valid JSON/.test((error as Error).message) && error.folder === 'my-adapter/',
    );
    await expect(peftModelFromAdapterFiles(base, { ...files, 'adapter_config.json': '[1]' })).rejects.toSatisfy(AdapterFolderError.isInstance);
    await expect(peftModelFromAdapterFiles(base, { ...files, 'adapter_model.safetensors': new Uint8Array([1, 2, 3]) })).rejects.toSatisfy(SafetensorsFormatError.isInstance);
    await expect(peftModelFromAdapterFiles(base, { 'adapter_config.json': files['adapter_config.json'] } as never)).rejects.toThrow(/no adapter_model\.safetensors/);
    expect(base.weights.map((weight) => weight.trainable)).toEqual(trainableBefore);
    base.dispose();
    peftModel.model.dispose();
  });

  it('refuses an adapter made for another model and leaves the base as it was', async () => {
    const peftModel = trainedPeftModel();
    const files = await adapterFilesFromPeftModel(peftModel);
    const input = tfl.input({ shape: [4] });
    const other = tfl.model({
      inputs: input,
      outputs: tfl.layers.dense({ units: 7, name: 'lin1' }).apply(tfl.layers.dense({ units: 6, name: 'lin0' }).apply(input)) as tfl.SymbolicTensor,
    });
    const before = await outputOf(other);
    const trainableBefore = other.weights.map((weight) => weight.trainable);
    const countBefore = tf.memory().numTensors;
    await expect(peftModelFromAdapterFiles(other, files)).rejects.toSatisfy(
      (error: unknown) => AdapterFormatError.isInstance(error) && /scale_vector/.test((error as Error).message) && /\[5\]/.test((error as Error).message),
    );
    expect(tf.memory().numTensors).toBe(countBefore);
    expect(other.weights.map((weight) => weight.trainable)).toEqual(trainableBefore);
    expect(await outputOf(other)).toEqual(before);
    // The failed attempt still counts as a user of the base layers (tfjs reference counting).
    for (const weight of other.weights) weight.dispose();
    peftModel.model.dispose();
  });
});
