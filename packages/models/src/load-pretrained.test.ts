import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getArchitecture, getModelInfo, getRegisteredTargetDefaults, InvalidConfigError, setWarningHandler, type WarningHandler } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { saveSafetensors } from '@peftjs/hub';
import {
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  BertForSequenceClassification,
  GPT2LMHeadModel,
  LlamaForCausalLM,
  ModelLoadError,
  UnsupportedModelTypeError,
  loadConfig,
  modelStateDict,
  saveModel,
} from './index';
import { TINY_BERT, TINY_GPT2, TINY_LLAMA } from '../../../test-fixtures/tiny-configs';

let root: string;
let warnings: string[] = [];
let previousHandler: WarningHandler;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'peftjs-models-'));
  previousHandler = setWarningHandler((message) => warnings.push(message));
});
afterAll(async () => {
  setWarningHandler(previousHandler);
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  warnings = [];
});

let folderCount = 0;
async function writeFolder(config: object, tensors: Record<string, tf.Tensor>, options: { floatDtype?: 'F32' | 'F16' | 'BF16' } = {}): Promise<string> {
  const dir = join(root, `model-${folderCount++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await saveSafetensors(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' }, floatDtype: options.floatDtype ?? 'F32' });
  return dir;
}

function ids(batch: number, seq: number, vocab: number): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: batch * seq }, (_, index) => (index * 7 + 3) % vocab),
    [batch, seq],
    'int32',
  );
}

async function compareOutputs(a: LayersModel, b: LayersModel, inputs: tf.Tensor[]): Promise<number> {
  const outA = a.predict(inputs) as tf.Tensor;
  const outB = b.predict(inputs) as tf.Tensor;
  const difference = await maxAbsDifference(outA, outB);
  tf.dispose([outA, outB]);
  return difference;
}

describe('fromPretrained round trip (saveModel → AutoModel…fromPretrained)', () => {
  it.each([
    ['gpt2', TINY_GPT2, AutoModelForCausalLM],
    ['llama', TINY_LLAMA, AutoModelForCausalLM],
    ['mistral', { ...TINY_LLAMA, model_type: 'mistral', sliding_window: 3 }, AutoModelForCausalLM],
    ['qwen2', { ...TINY_LLAMA, model_type: 'qwen2' }, AutoModelForCausalLM],
    ['bert seq-cls', TINY_BERT, AutoModelForSequenceClassification],
    ['bert token-cls', TINY_BERT, AutoModelForTokenClassification],
  ] as const)('%s', async (_name, config, Auto) => {
    const original = Auto.fromConfig(config, { seed: 1 });
    const dir = join(root, `round-trip-${folderCount++}`);
    await saveModel(original, dir);
    const before = tf.memory().numTensors;
    const loaded = await Auto.fromPretrained(dir);
    const input = ids(2, 5, 40);
    const inputs = config.model_type === 'bert' ? [input, tf.ones([2, 5]), tf.zeros([2, 5], 'int32')] : [input, tf.ones([2, 5])];
    expect(await compareOutputs(original, loaded, inputs)).toBe(0);
    expect(getModelInfo(loaded)).toMatchObject({ modelType: config.model_type, nameOrPath: dir });
    expect(warnings).toEqual([]);
    tf.dispose(inputs);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    original.dispose();
  });

  it('reads F16 and BF16 checkpoints (widened to float32)', async () => {
    const original = AutoModelForCausalLM.fromConfig(TINY_LLAMA, { seed: 2 });
    const state = modelStateDict(original);
    for (const floatDtype of ['F16', 'BF16'] as const) {
      const dir = await writeFolder(TINY_LLAMA, state, { floatDtype });
      const loaded = await AutoModelForCausalLM.fromPretrained(dir);
      const input = ids(1, 6, 64);
      const difference = await compareOutputs(original, loaded, [input, tf.ones([1, 6])]);
      expect(difference).toBeGreaterThan(0);
      expect(difference).toBeLessThan(floatDtype === 'F16' ? 0.05 : 0.3);
      input.dispose();
      loaded.dispose();
    }
    tf.dispose(Object.values(state));
    original.dispose();
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', async () => {
    const original = AutoModelForCausalLM.fromConfig(TINY_GPT2, { seed: 3 });
    const state = modelStateDict(original);
    const names = Object.keys(state);
    const dir = join(root, 'sharded');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify(TINY_GPT2));
    const shards = [names.slice(0, 10), names.slice(10)];
    const weightMap: Record<string, string> = {};
    for (const [index, shard] of shards.entries()) {
      const file = `model-0000${index + 1}-of-00002.safetensors`;
      await saveSafetensors(join(dir, file), Object.fromEntries(shard.map((name) => [name, state[name]!])));
      for (const name of shard) weightMap[name] = file;
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const loaded = await GPT2LMHeadModel.fromPretrained(dir);
    const input = ids(1, 4, 50);
    expect(await compareOutputs(original, loaded, [input, tf.ones([1, 4])])).toBe(0);
    tf.dispose([input, ...Object.values(state)]);
    loaded.dispose();
    original.dispose();
  });

  it('loads a bare GPT2Model checkpoint (no transformer. prefix, old attn.bias buffers) into GPT2LMHeadModel and back', async () => {
    const base = AutoModel.fromConfig(TINY_GPT2, { seed: 4 });
    const state = modelStateDict(base);
    expect(Object.keys(state)).toContain('h.0.attn.c_attn.weight');
    state['h.0.attn.bias'] = tf.ones([1, 1, 16, 16]);
    const dir = await writeFolder(TINY_GPT2, state);
    const lm = await AutoModelForCausalLM.fromPretrained(dir);
    expect(warnings).toEqual([]);
    const lmState = modelStateDict(lm);
    expect(await maxAbsDifference(lmState['transformer.h.1.mlp.c_fc.weight']!, state['h.1.mlp.c_fc.weight']!)).toBe(0);
    expect(Object.keys(lmState)).not.toContain('lm_head.weight');
    const lmDir = join(root, 'lm-save');
    await saveModel(lm, lmDir);
    const again = await AutoModel.fromPretrained(lmDir);
    const input = ids(1, 4, 50);
    expect(await compareOutputs(base, again, [input, tf.ones([1, 4])])).toBe(0);
    tf.dispose([input, ...Object.values(state), ...Object.values(lmState)]);
    for (const model of [base, lm, again]) model.dispose();
  });

  it('initialises a missing classifier like transformers, with a warning; ignores pretraining heads', async () => {
    const base = AutoModel.fromConfig(TINY_BERT, { seed: 5 });
    const state = Object.fromEntries(Object.entries(modelStateDict(base)).map(([name, tensor]) => [`bert.${name}`, tensor]));
    state['cls.predictions.bias'] = tf.zeros([50]);
    const dir = await writeFolder(TINY_BERT, state);
    const classifier = await BertForSequenceClassification.fromPretrained(dir);
    expect(warnings.join('\n')).toMatch(/newly initialized: classifier\.weight, classifier\.bias/);
    const kernel = classifier.getLayer('classifier').getWeights()[0]!;
    expect((await tf.moments(kernel).variance.data())[0]).toBeGreaterThan(0);
    tf.dispose(Object.values(state));
    base.dispose();
    classifier.dispose();
  });
});

describe('errors name what is wrong', () => {
  it('a missing weight names the tensor', async () => {
    const model = AutoModelForCausalLM.fromConfig(TINY_LLAMA, { seed: 6 });
    const state = modelStateDict(model);
    const removed = state['model.layers.1.self_attn.k_proj.weight']!;
    delete state['model.layers.1.self_attn.k_proj.weight'];
    const dir = await writeFolder(TINY_LLAMA, state);
    const before = tf.memory().numTensors;
    const error = await AutoModelForCausalLM.fromPretrained(dir).catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).problem).toBe('missing-weight');
    expect((error as ModelLoadError).tensorName).toBe('model.layers.1.self_attn.k_proj.weight');
    expect((error as Error).message).toContain('"model.layers.1.self_attn.k_proj.weight"');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([removed, ...Object.values(state)]);
    model.dispose();
  });

  it('a mis-shaped weight names the tensor and both shapes', async () => {
    const model = AutoModelForCausalLM.fromConfig(TINY_LLAMA, { seed: 7 });
    const state = modelStateDict(model);
    state['model.layers.0.mlp.up_proj.weight']!.dispose();
    state['model.layers.0.mlp.up_proj.weight'] = tf.zeros([16, 32]);
    const dir = await writeFolder(TINY_LLAMA, state);
    await expect(AutoModelForCausalLM.fromPretrained(dir)).rejects.toThrow(/"model\.layers\.0\.mlp\.up_proj\.weight".*\[16, 32\].*\[32, 16\]/);
    tf.dispose(Object.values(state));
    model.dispose();
  });

  it('an unknown model_type lists the supported ones and points to registration', async () => {
    const dir = await writeFolder({ model_type: 'perceiver' }, { x: tf.zeros([1]) });
    const error = await AutoModel.fromPretrained(dir).catch((caught: unknown) => caught);
    expect(UnsupportedModelTypeError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"perceiver".*bert, bloom, gpt2, llama, mistral, mt5, opt, qwen2, t5.*registerArchitecture/s);
  });

  it('a model type without the asked task, a class for another type, a missing file, an unsupported dtype', async () => {
    const dir = await writeFolder(TINY_GPT2, { x: tf.zeros([1]) });
    await expect(AutoModelForSequenceClassification.fromPretrained(dir)).rejects.toThrow(/model_type "gpt2" has no sequence classification architecture; supported: bert/);
    await expect(LlamaForCausalLM.fromPretrained(dir)).rejects.toThrow(/LlamaForCausalLM loads model_type llama, but .* has "gpt2"/);
    await expect(AutoModel.fromPretrained(join(root, 'nowhere'), { hub: { offline: true, cacheDir: join(root, 'cache') } })).rejects.toThrow();
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'config.json'), JSON.stringify(TINY_GPT2));
    await writeFile(join(empty, 'pytorch_model.bin'), '');
    await expect(AutoModel.fromPretrained(empty)).rejects.toThrow(/no model\.safetensors .*found pytorch_model\.bin, but only safetensors/);
    await expect(AutoModel.fromPretrained(dir, { dtype: 'float8' as 'float32' })).rejects.toThrow(/dtype "float8" is not supported; valid: float32, bfloat16, float16/);
    await expect(AutoModel.fromPretrained(dir, { quantization: 'int4' as 'nf4' })).rejects.toThrow(/quantization "int4" is not supported; valid: int8, nf4, fp4/);
    await expect(AutoModel.fromPretrained(dir, { dtype: 'bfloat16', frozenStore: 'none' })).rejects.toThrow(InvalidConfigError);
  });

  it('bad config values name the field', async () => {
    expect(() => AutoModelForCausalLM.fromConfig({ ...TINY_LLAMA, num_key_value_heads: 3 })).toThrow(/num_attention_heads 4 is not a multiple of num_key_value_heads 3/);
    expect(() => AutoModelForCausalLM.fromConfig({ ...TINY_GPT2, n_layer: 'two' })).toThrow(/"n_layer" must be a finite number/);
    expect(() => AutoModelForCausalLM.fromConfig({ ...TINY_LLAMA, rope_scaling: { type: 'yarn', factor: 2 } })).toThrow(/rope_scaling type "yarn" is not supported/);
    expect(() => AutoModelForCausalLM.fromConfig({ n_layer: 1 })).toThrow(/"model_type"/);
  });
});

describe('registration with @peftjs/core', () => {
  it("registers architectures and roles, and no method's default targets (each method package owns its table)", async () => {
    AutoModel.fromConfig(TINY_GPT2).dispose();
    expect(getArchitecture('llama')?.roles).toMatchObject({ query: 'q_proj', value: 'v_proj', feedForwardOutput: 'down_proj' });
    expect(getArchitecture('gpt2')?.layersPattern).toBe('h');
    for (const peftType of ['LORA', 'IA3']) for (const modelType of ['gpt2', 'bert', 'llama']) expect(getRegisteredTargetDefaults(peftType, modelType)).toBeUndefined();
    expect(getArchitecture('llama')?.defaultTargets).toBeUndefined();
  });

  it('names layers by transformers module paths and attaches model info', async () => {
    const model = AutoModelForCausalLM.fromConfig(TINY_LLAMA);
    const names = model.layers.map((layer) => layer.name);
    expect(names).toEqual(expect.arrayContaining(['model.embed_tokens', 'model.layers.1.self_attn.q_proj', 'model.layers.0.mlp.down_proj', 'model.norm', 'lm_head']));
    expect(getModelInfo(model)).toMatchObject({ modelType: 'llama', outputHeadPath: 'lm_head' });
    expect(getModelInfo(model).config).toMatchObject({ num_hidden_layers: 2 });
    model.dispose();
    const config = await loadConfig(join(root, 'sharded'));
    expect(config.model_type).toBe('gpt2');
  });
});
