import { getModelInfo, setModelInfo } from '@peftjs/core';
import { openSafetensors, SAFETENSORS_INDEX_NAME, type SafetensorsReader } from '@peftjs/hub';
import {
  generationDefaultsFrom,
  getModelType,
  loadWeights,
  modelFromConfig,
  parsePretrainedConfig,
  PretrainedTokenizer,
  type GenerationDefaults,
  type WeightSource,
} from '@peftjs/models';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { UserError } from './user-error';

/** A model folder's files by name (what a folder picker or the demo manifest gives). */
export type ModelFiles = Readonly<Record<string, Blob>>;

export interface LoadedModel {
  model: LayersModel;
  /** config.json as parsed. */
  config: Record<string, unknown>;
  tokenizer: PretrainedTokenizer | undefined;
  generation: GenerationDefaults;
  /** Written as `base_model_name_or_path` into adapter configs. */
  name: string;
}

async function json(files: ModelFiles, name: string): Promise<Record<string, unknown> | undefined> {
  const file = files[name];
  if (!file) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await file.text());
  } catch (error) {
    throw new UserError(`${name} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UserError(`${name} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The checkpoint as a weight source: model.safetensors, or the shards model.safetensors.index.json names. */
async function openWeightFiles(files: ModelFiles): Promise<WeightSource> {
  const readers = new Map<string, SafetensorsReader>();
  const single = files['model.safetensors'];
  try {
    if (single) readers.set('model.safetensors', await openSafetensors(single));
    else {
      const index = await json(files, SAFETENSORS_INDEX_NAME);
      if (!index) {
        const other = Object.keys(files).filter((name) => /\.(bin|pt|pth|h5|msgpack|ckpt)$/.test(name));
        throw new UserError(
          `the model has no model.safetensors (or ${SAFETENSORS_INDEX_NAME} and its shards)` +
            (other.length ? `; ${other.join(', ')} cannot be read here: save it with safe_serialization=True in Python` : ''),
        );
      }
      const weightMap = (index.weight_map ?? {}) as Record<string, string>;
      for (const shard of new Set(Object.values(weightMap))) {
        const blob = files[shard];
        if (!blob) throw new UserError(`${SAFETENSORS_INDEX_NAME} names the shard ${shard}, which is not among the files picked`);
        readers.set(shard, await openSafetensors(blob));
      }
    }
  } catch (error) {
    await Promise.all([...readers.values()].map((reader) => reader.close()));
    throw error;
  }
  const owner = new Map<string, SafetensorsReader>();
  for (const reader of readers.values()) for (const name of reader.names) owner.set(name, reader);
  const get = (name: string) =>
    owner.get(name) ??
    (() => {
      throw new UserError(`no tensor "${name}" in the checkpoint`);
    })();
  return {
    label: [...readers.keys()].join(', '),
    names: [...owner.keys()],
    shape: (name) => get(name).info(name).shape,
    dtype: (name) => get(name).info(name).dtype,
    read: (name) => get(name).readTensor(name),
    async close() {
      await Promise.all([...readers.values()].map((reader) => reader.close()));
    },
  };
}

/**
 * Loads a transformers causal LM from its files in memory, without a file system: config.json,
 * model.safetensors (or sharded), and when present tokenizer.json (+ tokenizer_config.json,
 * special_tokens_map.json) and generation_config.json. `@peftjs/models`' own `fromPretrained`
 * does the same from a folder path in Node.
 */
export async function loadCausalLmFromFiles(files: ModelFiles, name: string): Promise<LoadedModel> {
  const rawConfig = await json(files, 'config.json');
  if (!rawConfig) throw new UserError(`the model files have no config.json (got ${Object.keys(files).join(', ') || 'no files'})`);
  const config = parsePretrainedConfig(rawConfig, 'config.json');
  const model = modelFromConfig(rawConfig, 'causal-lm', { init: 'zeros' });
  try {
    const definition = getModelType(config.model_type)!;
    const task = definition.tasks['causal-lm']!;
    const typed = definition.parseConfig(config, 'config.json');
    const source = await openWeightFiles(files);
    try {
      await loadWeights(model, source, {
        basePrefix: definition.basePrefix,
        ignoreUnexpected: [...(definition.ignoreUnexpected ?? []), ...(task.ignoreUnexpected?.(typed) ?? [])],
      });
    } finally {
      await source.close();
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  setModelInfo(model, { ...getModelInfo(model), nameOrPath: name });
  const tokenizerJson = await json(files, 'tokenizer.json');
  const tokenizer = tokenizerJson
    ? new PretrainedTokenizer(tokenizerJson, { ...((await json(files, 'special_tokens_map.json')) ?? {}), ...((await json(files, 'tokenizer_config.json')) ?? {}) })
    : undefined;
  const generationConfig = await json(files, 'generation_config.json');
  const generation = { ...generationDefaultsFrom(rawConfig), ...(generationConfig ? generationDefaultsFrom(generationConfig) : {}) };
  return { model, config: rawConfig, tokenizer, generation, name };
}
