import type { LayersModel } from '@tensorflow/tfjs-layers';
import { InvalidConfigError, setModelInfo, type PeftModel } from '@peftjs/core';
import { fromPretrained as loadAdapterInto, readAdapterConfig, resolveAdapterFolder, type AdapterLocationOptions } from '@peftjs/hub';
import { registerBuiltinModelTypes } from '../architectures/builtin-model-types';
import { getModelType, listModelTypes, type ModelTask } from '../architectures/model-types';
import { TaskTypeMismatchError } from '../errors';
import { loadPretrained, type FromPretrainedOptions } from './load-pretrained';

/** PEFT's task types and the model task each loads its base as (PEFT's MODEL_TYPE_TO_PEFT_MODEL_MAPPING, for the tasks built here). */
export const PEFT_TASK_TYPE_TO_MODEL_TASK: Readonly<Record<string, ModelTask>> = {
  CAUSAL_LM: 'causal-lm',
  SEQ_2_SEQ_LM: 'seq2seq-lm',
  SEQ_CLS: 'sequence-classification',
  TOKEN_CLS: 'token-classification',
};

const CLASS_FOR_TASK_TYPE: Readonly<Record<string, string>> = {
  CAUSAL_LM: 'AutoPeftModelForCausalLM',
  SEQ_2_SEQ_LM: 'AutoPeftModelForSeq2SeqLM',
  SEQ_CLS: 'AutoPeftModelForSequenceClassification',
  TOKEN_CLS: 'AutoPeftModelForTokenClassification',
};

export interface AutoPeftModelOptions extends AdapterLocationOptions {
  /** The name the adapter gets in the model. Default "default". */
  adapterName?: string;
  /** Load the adapter for training (`inference_mode: false`). Default false: frozen, as in PEFT. */
  isTrainable?: boolean;
  /**
   * The base model (a folder or a Hub repo id) to load instead of the adapter config's
   * `base_model_name_or_path`; needed when that is empty or names a model that is not at hand.
   */
  baseModelNameOrPath?: string;
  /** The base model's Hub revision. Default: the adapter config's `revision`, else `main`. */
  baseRevision?: string;
  /** How the base model's frozen weights are stored (see `FromPretrainedOptions`). */
  dtype?: FromPretrainedOptions['dtype'];
  quantization?: FromPretrainedOptions['quantization'];
  doubleQuant?: boolean;
  frozenStore?: FromPretrainedOptions['frozenStore'];
}

/** Where `base_model_name_or_path` points: a local folder, or a Hub repo id. */
export interface ResolvedBaseModel {
  /** An absolute folder path, or the repo id as written. */
  readonly location: string;
  readonly kind: 'folder' | 'hub';
  /** The value as the adapter config (or the caller) wrote it. */
  readonly nameOrPath: string;
}

function looksLikePath(value: string): boolean {
  return value.startsWith('.') || value.startsWith('/') || value.startsWith('~') || value.includes('\\') || value.split('/').length > 2 || /^[A-Za-z]:/.test(value);
}

/**
 * Resolves an adapter's `base_model_name_or_path` as PEFT users write it:
 * 1. an absolute path, or a path relative to the **working directory** — what Python's
 *    `AutoPeftModel…from_pretrained` does, so this wins when both exist;
 * 2. else a path relative to the **adapter folder** (an adapter saved next to its base, such as
 *    `"../base"` written from inside the adapter folder);
 * 3. else a Hub repo id (`org/name`, or a bare `name`), fetched through the Hub cache.
 * A value that looks like a path but exists in neither place throws, naming both places tried.
 */
export async function resolveBaseModel(nameOrPath: string, adapterFolder: string): Promise<ResolvedBaseModel> {
  const { resolve, isAbsolute } = await import('node:path');
  const { stat } = await import('node:fs/promises');
  const isFolder = (path: string) =>
    stat(path).then(
      (stats) => stats.isDirectory(),
      () => false,
    );
  const fromWorkingDirectory = resolve(nameOrPath);
  if (await isFolder(fromWorkingDirectory)) return { location: fromWorkingDirectory, kind: 'folder', nameOrPath };
  if (!isAbsolute(nameOrPath)) {
    const fromAdapter = resolve(adapterFolder, nameOrPath);
    if (await isFolder(fromAdapter)) return { location: fromAdapter, kind: 'folder', nameOrPath };
    if (!looksLikePath(nameOrPath)) return { location: nameOrPath, kind: 'hub', nameOrPath };
    throw new InvalidConfigError(
      `base_model_name_or_path "${nameOrPath}" is neither a folder relative to the working directory (${fromWorkingDirectory}) nor one relative to the adapter folder (${fromAdapter}); pass baseModelNameOrPath`,
      { field: 'base_model_name_or_path' },
    );
  }
  throw new InvalidConfigError(`base_model_name_or_path "${nameOrPath}" is not a folder; pass baseModelNameOrPath`, { field: 'base_model_name_or_path' });
}

/** An `AutoPeftModel…` class: loads an adapter and the base model its config names (PEFT's `AutoPeftModel…from_pretrained`). */
export interface AutoPeftModelClass {
  readonly className: string;
  /** The adapter `task_type` this class loads; null for `AutoPeftModel`. */
  readonly taskType: string | null;
  fromPretrained(adapterDirOrRepoId: string, options?: AutoPeftModelOptions): Promise<PeftModel>;
}

/** The model task for a transformers class name (an adapter's `auto_mapping.base_model_class`). */
function taskOfClassName(className: string): ModelTask | undefined {
  registerBuiltinModelTypes();
  for (const modelType of listModelTypes()) {
    const tasks = getModelType(modelType)!.tasks;
    for (const [task, definition] of Object.entries(tasks)) if (definition?.className === className) return task as ModelTask;
  }
  return undefined;
}

function modelTaskFor(className: string, expected: string | null, config: Record<string, unknown>, configPath: string): ModelTask {
  const raw = config.task_type;
  const actual = typeof raw === 'string' && raw !== '' ? raw : null;
  if (expected === null) {
    if (actual !== null) {
      const suggestion = CLASS_FOR_TASK_TYPE[actual];
      throw new TaskTypeMismatchError(
        `AutoPeftModel loads adapters without a task type, but ${configPath} has task_type "${actual}"; use ${suggestion ?? 'the AutoPeftModelFor… class of that task'}${suggestion ? ` for task_type "${actual}"` : ''}`,
        { className, expected, actual },
      );
    }
    const mapping = config.auto_mapping as { base_model_class?: unknown } | null | undefined;
    const baseClass = typeof mapping?.base_model_class === 'string' ? mapping.base_model_class : undefined;
    const task = baseClass ? taskOfClassName(baseClass) : undefined;
    if (!task) {
      throw new InvalidConfigError(
        `cannot infer the model class from ${configPath}: it has no task_type${baseClass ? `, and its auto_mapping names "${baseClass}", which @peftjs/models does not build` : ' and no auto_mapping'}; load the base model yourself and use fromPretrained from @peftjs/hub`,
        { field: 'task_type' },
      );
    }
    return task;
  }
  if (actual !== expected) {
    const suggestion = actual === null ? 'AutoPeftModel' : CLASS_FOR_TASK_TYPE[actual];
    throw new TaskTypeMismatchError(
      `${className} loads adapters with task_type "${expected}", but ${configPath} has ${actual === null ? 'none' : `"${actual}"`}` +
        (suggestion ? `; use ${suggestion}` : `; task types loadable here: ${Object.keys(CLASS_FOR_TASK_TYPE).join(', ')}`),
      { className, expected, actual },
    );
  }
  return PEFT_TASK_TYPE_TO_MODEL_TASK[expected]!;
}

async function loadAutoPeftModel(className: string, expected: string | null, adapterDirOrRepoId: string, options: AutoPeftModelOptions = {}): Promise<PeftModel> {
  const {
    adapterName,
    isTrainable,
    baseModelNameOrPath,
    baseRevision,
    subfolder,
    revision,
    dtype: _dtype,
    quantization: _quantization,
    doubleQuant: _doubleQuant,
    frozenStore: _frozenStore,
    ...hub
  } = options;
  const { join } = await import('node:path');
  const adapterFolder = await resolveAdapterFolder(adapterDirOrRepoId, { ...hub, revision, subfolder });
  const config = await readAdapterConfig(adapterFolder);
  const configPath = join(adapterFolder, 'adapter_config.json');
  const task = modelTaskFor(className, expected, config, configPath);

  const written = baseModelNameOrPath ?? (typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : '');
  if (written === '') {
    throw new InvalidConfigError(`${configPath} names no base model (base_model_name_or_path is empty); pass baseModelNameOrPath`, { field: 'base_model_name_or_path' });
  }
  const base = await resolveBaseModel(written, adapterFolder);
  const configRevision = typeof config.revision === 'string' && config.revision !== '' ? config.revision : undefined;
  const { concurrency: _concurrency, ...connection } = hub;
  const model: LayersModel = await loadPretrained(base.location, task, {
    revision: baseRevision ?? configRevision,
    hub: connection,
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(options.quantization !== undefined ? { quantization: options.quantization } : {}),
    ...(options.doubleQuant !== undefined ? { doubleQuant: options.doubleQuant } : {}),
    ...(options.frozenStore !== undefined ? { frozenStore: options.frozenStore } : {}),
  });
  // As in PEFT, the base keeps the name it was loaded by, which a re-saved adapter writes again.
  setModelInfo(model, { nameOrPath: base.nameOrPath });
  try {
    return await loadAdapterInto(model, adapterFolder, { adapterName, isTrainable });
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function autoPeftClass(className: string, taskType: string | null): AutoPeftModelClass {
  return {
    className,
    taskType,
    fromPretrained: (adapterDirOrRepoId, options) => loadAutoPeftModel(className, taskType, adapterDirOrRepoId, options),
  };
}

/**
 * Loads an adapter whose config has no `task_type`, with the base class its `auto_mapping`
 * names; an adapter with a task type needs its `AutoPeftModelFor…` class (as in PEFT).
 */
export const AutoPeftModel = autoPeftClass('AutoPeftModel', null);
export const AutoPeftModelForCausalLM = autoPeftClass('AutoPeftModelForCausalLM', 'CAUSAL_LM');
export const AutoPeftModelForSeq2SeqLM = autoPeftClass('AutoPeftModelForSeq2SeqLM', 'SEQ_2_SEQ_LM');
export const AutoPeftModelForSequenceClassification = autoPeftClass('AutoPeftModelForSequenceClassification', 'SEQ_CLS');
export const AutoPeftModelForTokenClassification = autoPeftClass('AutoPeftModelForTokenClassification', 'TOKEN_CLS');
