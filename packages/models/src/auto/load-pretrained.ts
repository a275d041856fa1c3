import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getModelInfo, InvalidConfigError, namedParameters, setModelInfo } from '@peftjs/core';
import { generationDefaultsFrom, loadConfig, loadGenerationConfig, type GenerationDefaults } from '../config/load-config';
import { parsePretrainedConfig, type PretrainedConfig } from '../config/pretrained-config';
import { registerBuiltinModelTypes } from '../architectures/builtin-model-types';
import type { BuildOptions } from '../architectures/build-options';
import { getModelType, listModelTypes, MODEL_TASKS, type ModelTask, type ModelTypeDefinition } from '../architectures/model-types';
import { ModelLoadError, UnsupportedModelTypeError } from '../errors';
import { loadWeights } from '../weights/load-weights';
import { openWeights } from '../weights/weight-source';
import { resolveModelFolder, type ResolveModelOptions } from './resolve-model-folder';
import { buildWithFrozenWeights } from '../frozen/frozen-build-scope';
import { openFrozenCheckpoint } from '../frozen/frozen-checkpoint';
import { parseFrozenStorage, type FrozenDtype, type Quantization } from '../frozen/frozen-storage';
import { assertFits, estimateLoadMemory } from '../frozen/memory-estimate';
import { loadNativeStore, nativeStoreUnavailableReason, type NativeStoreAddon } from '../frozen/native-store';

export interface FromPretrainedOptions extends ResolveModelOptions {
  /**
   * How the frozen base weights are stored (computation stays float32). Giving `dtype` or
   * `quantization` loads the linear and embedding weights into a frozen-weight store outside the
   * wasm heap; without either, every weight is a tfjs variable in float32, as before.
   */
  dtype?: FrozenDtype;
  /** Quantised storage of the frozen weights: `int8` (per-output-channel absmax), `nf4`, `fp4` (bitsandbytes' 4-bit, blocks of 64). */
  quantization?: Quantization;
  /** 4-bit: double-quantise the block absmax (bitsandbytes' `bnb_4bit_use_double_quant`). Default false. */
  doubleQuant?: boolean;
  /**
   * Where frozen weights live: `native` (@peftjs/native's store: mapped or native memory, native
   * kernels), `arrays` (JS arrays, dequantised per use: browsers, no compiler), `auto` (native
   * when the addon loads, else arrays; the default when `dtype` or `quantization` is given), or
   * `none` (tfjs variables; the default otherwise).
   */
  frozenStore?: 'auto' | 'native' | 'arrays' | 'none';
}

/** Which store a load uses, from the options (a typed error for a contradiction). */
function frozenStoreMode(options: FromPretrainedOptions): 'auto' | 'native' | 'arrays' | 'none' {
  const storeAsked = options.dtype !== undefined || options.quantization !== undefined || options.doubleQuant !== undefined;
  const mode = options.frozenStore ?? (storeAsked ? 'auto' : 'none');
  if (!['auto', 'native', 'arrays', 'none'].includes(mode)) {
    throw new InvalidConfigError(`frozenStore "${mode}" is not one of auto, native, arrays, none`, { field: 'frozenStore' });
  }
  if (mode === 'none' && ((options.dtype !== undefined && options.dtype !== 'float32') || options.quantization !== undefined)) {
    throw new InvalidConfigError(
      `frozenStore "none" keeps float32 tfjs variables; dtype ${options.dtype ?? 'float32'} / quantization ${options.quantization ?? 'none'} need a frozen-weight store (frozenStore auto, native or arrays)`,
      {
        field: 'frozenStore',
      },
    );
  }
  return mode;
}

const TASK_NAMES: Record<ModelTask, string> = {
  base: 'base model',
  'causal-lm': 'causal language model',
  'seq2seq-lm': 'sequence-to-sequence language model',
  'sequence-classification': 'sequence classification',
  'token-classification': 'token classification',
};

function supportedFor(task: ModelTask): string[] {
  return listModelTypes().filter((type) => getModelType(type)?.tasks[task]);
}

function definitionFor(config: PretrainedConfig, task: ModelTask): ModelTypeDefinition {
  registerBuiltinModelTypes();
  const definition = getModelType(config.model_type);
  if (!definition) throw new UnsupportedModelTypeError({ modelType: config.model_type, supported: listModelTypes() });
  if (!definition.tasks[task]) {
    throw new UnsupportedModelTypeError({ modelType: config.model_type, supported: supportedFor(task), task: TASK_NAMES[task] });
  }
  return definition;
}

/** Keyed by the config object in the model's ModelInfo, which PEFT rewrites carry over to the new model. */
const generationDefaults = new WeakMap<object, GenerationDefaults>();

/** The generation defaults loaded with a model (generation_config.json, else config.json); also for its PEFT-rewritten copies. */
export function getGenerationDefaults(model: LayersModel): GenerationDefaults | undefined {
  const config = getModelInfo(model).config;
  return config ? generationDefaults.get(config) : undefined;
}

function finish(
  model: LayersModel,
  config: PretrainedConfig,
  task: ModelTask,
  definition: ModelTypeDefinition,
  nameOrPath: string | undefined,
  generation?: GenerationDefaults,
): LayersModel {
  const taskDefinition = definition.tasks[task]!;
  setModelInfo(model, {
    modelType: config.model_type,
    ...(nameOrPath !== undefined ? { nameOrPath } : {}),
    ...(taskDefinition.outputHeadPath ? { outputHeadPath: taskDefinition.outputHeadPath } : {}),
    config,
  });
  generationDefaults.set(config, generation ?? generationDefaultsFrom(config));
  return model;
}

/** transformers' init for parameters a checkpoint lacks: normal(0, initializer_range) weights, zero biases. */
function initializeFresh(model: LayersModel, names: readonly string[], config: PretrainedConfig): void {
  const range = typeof config.initializer_range === 'number' ? config.initializer_range : 0.02;
  const params = namedParameters(model);
  for (const name of names) {
    const param = params.get(name);
    if (!param) continue;
    const shape = param.variable.shape as number[];
    const value = name.endsWith('bias') ? tf.zeros(shape) : tf.randomNormal(shape, 0, range, 'float32');
    param.variable.write(value);
    value.dispose();
  }
}

/** Builds a model from a config.json object with fresh weights (random by default). */
export function modelFromConfig(rawConfig: Readonly<Record<string, unknown>>, task: ModelTask, options: BuildOptions = {}): LayersModel {
  const config = parsePretrainedConfig(rawConfig, 'config');
  const definition = definitionFor(config, task);
  const model = definition.tasks[task]!.build(definition.parseConfig(config, 'config'), options);
  return finish(model, config, task, definition, undefined);
}

/**
 * Loads a transformers model folder (config.json + model.safetensors, single or sharded) or a
 * Hub repo id as the class for `task`, dispatching on config.json's `model_type`.
 */
export async function loadPretrained(
  dirOrRepoId: string,
  task: ModelTask,
  options: FromPretrainedOptions = {},
  expected?: { className: string; modelTypes: readonly string[] },
): Promise<LayersModel> {
  if (!MODEL_TASKS.includes(task)) throw new InvalidConfigError(`unknown task "${task}"; one of ${MODEL_TASKS.join(', ')}`, { field: 'task' });
  const storage = parseFrozenStorage(options);
  const storeMode = frozenStoreMode(options);
  let addon: NativeStoreAddon | undefined;
  if (storeMode === 'native' || storeMode === 'auto') {
    addon = await loadNativeStore();
    if (!addon && storeMode === 'native') {
      throw new InvalidConfigError(
        `frozenStore "native" needs @peftjs/native's frozen-weight store, which is unavailable here: ${nativeStoreUnavailableReason()}; use frozenStore "arrays" (or "auto")`,
        { field: 'frozenStore' },
      );
    }
  }
  const folder = await resolveModelFolder(dirOrRepoId, options);
  const config = await loadConfig(folder);
  if (expected && !expected.modelTypes.includes(config.model_type)) {
    throw new ModelLoadError(
      `${expected.className} loads model_type ${expected.modelTypes.join(' or ')}, but ${folder}/config.json has "${config.model_type}"; use an AutoModel class to dispatch on model_type`,
      { problem: 'invalid-config', path: `${folder}/config.json` },
    );
  }
  const definition = definitionFor(config, task);
  const taskDefinition = definition.tasks[task]!;
  const typed = definition.parseConfig(config, `${folder}/config.json`);
  const checkpoint = storeMode === 'none' ? undefined : await openFrozenCheckpoint(folder, storage, { basePrefix: definition.basePrefix, addon });
  let model: LayersModel;
  try {
    if (checkpoint) assertFits(estimateLoadMemory(checkpoint.tensors, storage, addon !== undefined), `load ${dirOrRepoId}`);
    model = checkpoint ? buildWithFrozenWeights(checkpoint, () => taskDefinition.build(typed, { init: 'zeros' })) : taskDefinition.build(typed, { init: 'zeros' });
  } catch (error) {
    checkpoint?.disposeAll();
    checkpoint?.close();
    throw error;
  }
  checkpoint?.close();
  try {
    const source = await openWeights(folder);
    try {
      const report = await loadWeights(model, source, {
        basePrefix: definition.basePrefix,
        ignoreUnexpected: [...(definition.ignoreUnexpected ?? []), ...(taskDefinition.ignoreUnexpected?.(typed) ?? [])],
        newlyInitialized: taskDefinition.newlyInitialized,
      });
      if (report.newlyInitialized.length > 0) initializeFresh(model, report.newlyInitialized, config);
    } finally {
      await source.close();
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  const generation = await loadGenerationConfig(folder);
  return finish(model, config, task, definition, dirOrRepoId, generation ? { ...generationDefaultsFrom(config), ...generation } : undefined);
}
