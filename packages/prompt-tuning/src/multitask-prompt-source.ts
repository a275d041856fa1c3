import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError, InvalidConfigError } from '@peftjs/core';
import { taskColsName, taskRowsName, type MultitaskPromptEmbedding } from './multitask-prompt-embedding-layer';
import {
  attachedSourceStateDict,
  attachSourceStateDict,
  MULTITASK_PROMPT_TUNING_PEFT_TYPE,
  MULTITASK_WEIGHT_PREFIX,
  SOURCE_INITS,
  type MultitaskPromptTuningConfig,
  type MultitaskPromptTuningInit,
} from './multitask-prompt-tuning-config';
import type { PreparedPromptConfig } from './prompt-learning-config';

/** Whether a config starts from a source adapter (and is not a trained adapter being loaded, whose tensors come with it). */
export function needsSource(config: Pick<MultitaskPromptTuningConfig, 'promptTuningInit' | 'inferenceMode'>): boolean {
  return SOURCE_INITS.includes(config.promptTuningInit as MultitaskPromptTuningInit) && !config.inferenceMode;
}

/** Reads a `.safetensors` file into tensors by name: `loadSafetensors` from @peftjs/hub on Node. */
export type SafetensorsFileReader = (path: string) => Promise<Readonly<Record<string, tf.Tensor>>>;

/**
 * Reads the source adapter that `prompt_tuning_init_state_dict_path` names (a PEFT
 * `adapter_model.safetensors` of a multitask prompt-tuning adapter) with `readTensors` and attaches
 * its tensors to the config, for the inits AVERAGE_SOURCE_TASKS, EXACT_SOURCE_TASK and
 * ONLY_SOURCE_SHARED. The caller brings the file reader (`loadSafetensors` from @peftjs/hub), so
 * this package reads no files itself; in a browser, pass `sourceStateDict` to the config factory
 * instead. Returns the same config; a config that needs no source (or of another method) is
 * returned as it is, without calling the reader.
 */
export async function loadMultitaskPromptTuningSource<C extends { peftType: string }>(config: C, readTensors: SafetensorsFileReader): Promise<C> {
  if (config.peftType !== MULTITASK_PROMPT_TUNING_PEFT_TYPE) return config;
  const multitask = config as unknown as MultitaskPromptTuningConfig;
  if (!needsSource(multitask) || attachedSourceStateDict(config)) return config;
  const path = multitask.promptTuningInitStateDictPath;
  if (path === null)
    throw new InvalidConfigError(`prompt_tuning_init_state_dict_path needs to be specified with ${multitask.promptTuningInit} init method`, {
      field: 'prompt_tuning_init_state_dict_path',
    });
  if (!path.endsWith('.safetensors')) {
    throw new InvalidConfigError(
      `prompt_tuning_init_state_dict_path ${JSON.stringify(path)} is not a .safetensors file; torch pickles cannot be read here (save the source adapter with safe_serialization=True)`,
      {
        field: 'prompt_tuning_init_state_dict_path',
      },
    );
  }
  return attachSourceStateDict(config, await readTensors(path));
}

function sameShape(value: tf.Tensor | undefined, expected: readonly number[]): boolean {
  return value !== undefined && value.rank === expected.length && value.shape.every((size, index) => size === expected[index]);
}

/**
 * Checks, before any layer is touched, that the source adapter fits the new prompt as PEFT 0.11.1
 * loads it (`load_state_dict(strict=True)` for AVERAGE_SOURCE_TASKS / EXACT_SOURCE_TASK, which
 * put ONE task's factors into the new adapter, so it must have num_tasks 1).
 */
export function checkSource(config: PreparedPromptConfig<MultitaskPromptTuningConfig>): void {
  if (!needsSource(config)) return;
  const tensors = attachedSourceStateDict(config);
  const field = 'prompt_tuning_init_state_dict_path';
  if (!tensors) {
    if (config.promptTuningInitStateDictPath === null)
      throw new InvalidConfigError(`prompt_tuning_init_state_dict_path needs to be specified with ${config.promptTuningInit} init method`, { field });
    throw new InvalidConfigError(
      `prompt_tuning_init ${config.promptTuningInit} reads ${JSON.stringify(config.promptTuningInitStateDictPath)}: load it first with await loadMultitaskPromptTuningSource(config, loadSafetensors), or pass { sourceStateDict }`,
      { field },
    );
  }
  const total = config.numVirtualTokens * config.numTransformerSubmodules;
  const where = config.promptTuningInitStateDictPath ?? 'sourceStateDict';
  const expect = (key: string, shape: number[]) => {
    if (!sameShape(tensors[key], shape)) {
      const actual = tensors[key] ? `[${tensors[key]!.shape.join(', ')}]` : 'missing';
      throw new AdapterFormatError(`source adapter ${where}: "${key}" is ${actual}; the new prompt needs [${shape.join(', ')}]`, { tensorName: key });
    }
  };
  expect('prompt_embeddings', [total, config.tokenDim]);
  if (config.promptTuningInit === 'ONLY_SOURCE_SHARED') return;
  const sourceTasks = tensors.prefix_task_cols?.shape[0] ?? 0;
  expect('prefix_task_cols', [sourceTasks, total, config.numRanks]);
  expect('prefix_task_rows', [sourceTasks, config.numRanks, config.tokenDim]);
  if (config.numTasks !== 1) {
    throw new InvalidConfigError(
      `prompt_tuning_init ${config.promptTuningInit} starts ONE target task from the source tasks, so num_tasks must be 1 (got ${config.numTasks}), as PEFT 0.11.1 loads it`,
      {
        field: 'num_tasks',
      },
    );
  }
  if (config.promptTuningInit === 'EXACT_SOURCE_TASK' && config.promptTuningInitTask >= sourceTasks) {
    throw new InvalidConfigError(`prompt_tuning_init_task ${config.promptTuningInitTask} is out of range: the source adapter has ${sourceTasks} tasks`, {
      field: 'prompt_tuning_init_task',
    });
  }
}

/**
 * PEFT's MultitaskPromptEmbedding init from a source adapter (checked by checkSource):
 * AVERAGE_SOURCE_TASKS takes the source's shared prompt and its task factors averaged over the
 * tasks; EXACT_SOURCE_TASK the factors of task `prompt_tuning_init_task`; ONLY_SOURCE_SHARED the
 * shared prompt alone (the factors stay random).
 */
export function initialiseFromSource(layer: MultitaskPromptEmbedding, adapterName: string, config: MultitaskPromptTuningConfig): void {
  const tensors = attachedSourceStateDict(config);
  if (!needsSource(config) || !tensors) return;
  const asFloat = (value: tf.Tensor) => (value.dtype === 'float32' ? value : tf.cast(value, 'float32'));
  const prompt = tf.tidy(() => asFloat(tensors.prompt_embeddings!).clone());
  layer.promptSource(adapterName).load(prompt);
  prompt.dispose();
  if (config.promptTuningInit === 'ONLY_SOURCE_SHARED') return;
  const pick = (value: tf.Tensor) =>
    config.promptTuningInit === 'AVERAGE_SOURCE_TASKS' ? tf.mean(asFloat(value), 0, true) : tf.slice(asFloat(value), [config.promptTuningInitTask], [1]);
  const params = layer.adapterParameters(adapterName);
  for (const [name, key] of [
    [taskColsName(MULTITASK_WEIGHT_PREFIX, adapterName), 'prefix_task_cols'],
    [taskRowsName(MULTITASK_WEIGHT_PREFIX, adapterName), 'prefix_task_rows'],
  ] as const) {
    const value = tf.tidy(() => pick(tensors[key]!));
    params.get(name)!.variable.write(value);
    value.dispose();
  }
}
