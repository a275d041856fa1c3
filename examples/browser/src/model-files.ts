import { getModelInfo, setModelInfo } from '@peftjs/core';
import { openSafetensors, SAFETENSORS_INDEX_NAME, type SafetensorsReader } from '@peftjs/hub';
import {
  assertFits,
  buildWithFrozenWeights,
  estimateLoadMemory,
  FROZEN_DTYPES,
  formatBytes,
  FrozenWeightVariable,
  generationDefaultsFrom,
  MemoryBudgetError,
  parseFrozenStorage,
  QUANTIZATIONS,
  getModelType,
  listModelTypes,
  registerBuiltinModelTypes,
  loadWeights,
  modelFromConfig,
  parsePretrainedConfig,
  PretrainedTokenizer,
  type GenerationDefaults,
  type WeightSource,
} from '@peftjs/models';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { openFrozenFiles, type CheckpointTensors } from './frozen-files';
import { UserError } from './user-error';

/** A model folder's files by name (what a folder picker or the demo manifest gives). */
export type ModelFiles = Readonly<Record<string, Blob>>;

/**
 * Where the frozen base weights live: `heap` as float32 tfjs tensors (in the wasm heap on wasm),
 * or in JS arrays outside the heap in a storage format (`float32`, `bfloat16`, `float16`, `int8`,
 * `nf4`, `fp4`; dequantised per use). `auto`: the heap for models under AUTO_STORE_PARAMETERS,
 * else bfloat16 outside the heap.
 */
export const WEIGHT_STORAGES = ['auto', 'heap', ...FROZEN_DTYPES, ...QUANTIZATIONS] as const;
export type WeightStorage = (typeof WEIGHT_STORAGES)[number];

/** From this many parameters `auto` keeps the frozen weights outside the wasm heap, in bfloat16. */
export const AUTO_STORE_PARAMETERS = 50_000_000;

export interface LoadedModel {
  model: LayersModel;
  /** config.json as parsed. */
  config: Record<string, unknown>;
  tokenizer: PretrainedTokenizer | undefined;
  generation: GenerationDefaults;
  /** Written as `base_model_name_or_path` into adapter configs. */
  name: string;
  /** Where the frozen weights live (`auto` resolved). */
  storage: Exclude<WeightStorage, 'auto'>;
  /** Bytes the frozen weights hold outside the wasm heap (0 with `heap`). */
  storedBytes: number;
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
async function openWeightFiles(files: ModelFiles): Promise<WeightSource & Pick<CheckpointTensors, 'readData'>> {
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
    readData: (name) => get(name).readData(name),
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
export async function loadCausalLmFromFiles(files: ModelFiles, name: string, options: { storage?: WeightStorage } = {}): Promise<LoadedModel> {
  const rawConfig = await json(files, 'config.json');
  if (!rawConfig) throw new UserError(`the model files have no config.json (got ${Object.keys(files).join(', ') || 'no files'})`);
  const asked = options.storage ?? 'auto';
  if (!(WEIGHT_STORAGES as readonly string[]).includes(asked)) throw new UserError(`unknown weight storage "${asked}"; one of ${WEIGHT_STORAGES.join(', ')}`);
  const config = parsePretrainedConfig(rawConfig, 'config.json');
  registerBuiltinModelTypes();
  const definition = getModelType(config.model_type);
  const causalTypes = listModelTypes().filter((type) => getModelType(type)?.tasks['causal-lm']);
  if (!definition?.tasks['causal-lm']) throw new UserError(`model_type "${config.model_type}" is not a causal LM this page can build; it builds ${causalTypes.join(', ')}`);
  const task = definition.tasks['causal-lm'];
  const typed = definition.parseConfig(config, 'config.json');
  const source = await openWeightFiles(files);
  let model: LayersModel | undefined;
  let storage: LoadedModel['storage'];
  try {
    const tensors = new Map(source.names.map((tensor) => [tensor, { dtype: source.dtype(tensor), shape: source.shape(tensor) }]));
    const parameters = [...tensors.values()].reduce((sum, { shape }) => sum + shape.reduce((product, size) => product * size, 1), 0);
    storage = asked === 'auto' ? (parameters >= AUTO_STORE_PARAMETERS ? 'bfloat16' : 'heap') : asked;
    const frozenStorage =
      storage === 'heap' ? undefined : parseFrozenStorage((QUANTIZATIONS as readonly string[]).includes(storage) ? { quantization: storage } : { dtype: storage });
    // Says "needs X of wasm heap, which holds at most 4 GiB" before anything is allocated.
    const estimate = frozenStorage ? estimateLoadMemory(tensors, frozenStorage, false) : { heapBytes: 4 * parameters, outsideBytes: 0, mappedBytes: 0, hints: [] };
    try {
      assertFits(frozenStorage ? estimate : { ...estimate, hints: ['weight storage bfloat16 (outside the wasm heap)'] }, `load ${name}`);
    } catch (error) {
      if (MemoryBudgetError.isInstance(error)) throw new UserError(error.message);
      throw error;
    }
    if (frozenStorage) {
      const frozen = await openFrozenFiles(source, frozenStorage, definition.basePrefix);
      try {
        model = buildWithFrozenWeights(frozen, () => modelFromConfig(rawConfig, 'causal-lm', { init: 'zeros' }));
      } catch (error) {
        for (const weight of frozen.weights) weight.dispose();
        throw error;
      } finally {
        frozen.release();
      }
    } else {
      model = modelFromConfig(rawConfig, 'causal-lm', { init: 'zeros' });
    }
    await loadWeights(model, source, {
      basePrefix: definition.basePrefix,
      ignoreUnexpected: [...(definition.ignoreUnexpected ?? []), ...(task.ignoreUnexpected?.(typed) ?? [])],
    });
  } catch (error) {
    model?.dispose();
    throw error;
  } finally {
    await source.close();
  }
  setModelInfo(model, { ...getModelInfo(model), nameOrPath: name });
  const tokenizerJson = await json(files, 'tokenizer.json');
  const tokenizer = tokenizerJson
    ? new PretrainedTokenizer(tokenizerJson, { ...((await json(files, 'special_tokens_map.json')) ?? {}), ...((await json(files, 'tokenizer_config.json')) ?? {}) })
    : undefined;
  const generationConfig = await json(files, 'generation_config.json');
  const generation = { ...generationDefaultsFrom(rawConfig), ...(generationConfig ? generationDefaultsFrom(generationConfig) : {}) };
  return { model, config: rawConfig, tokenizer, generation, name, storage, storedBytes: storedBytes(model) };
}

/** Bytes the model's frozen weights hold outside the tfjs heap. */
export function storedBytes(model: LayersModel): number {
  let bytes = 0;
  for (const weight of model.weights) if (FrozenWeightVariable.isFrozenWeightVariable(weight)) bytes += weight.weight.bytes;
  return bytes;
}

/** "bfloat16 outside the wasm heap (270 MB)", for the page. */
export function describeStorage(storage: LoadedModel['storage'], bytes: number): string {
  return storage === 'heap' ? 'float32 tensors in the tfjs heap' : `${storage} outside the tfjs heap (${formatBytes(bytes)})`;
}
