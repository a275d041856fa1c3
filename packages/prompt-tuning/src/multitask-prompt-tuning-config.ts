import * as tf from '@tensorflow/tfjs-core';
import { defineConfigSchema, fields, InvalidConfigError } from '@peftjs/core';
import { checkNumVirtualTokens, promptLearningFields, refuseTargetFields } from './prompt-learning-config';
import { attachTokenizer, takeTokenizer, type PromptTokenizer } from './prompt-tokenizer';

export const MULTITASK_PROMPT_TUNING_PEFT_TYPE = 'MULTITASK_PROMPT_TUNING';
/** Marks the method's weights in memory (`multitask_prompt_prefix_task_cols.<adapter>`); contains no other tuner's prefix. */
export const MULTITASK_WEIGHT_PREFIX = 'multitask_prompt_';

/** PEFT's `MultitaskPromptTuningInit`. */
export const MultitaskPromptTuningInit = {
  TEXT: 'TEXT',
  RANDOM: 'RANDOM',
  AVERAGE_SOURCE_TASKS: 'AVERAGE_SOURCE_TASKS',
  EXACT_SOURCE_TASK: 'EXACT_SOURCE_TASK',
  ONLY_SOURCE_SHARED: 'ONLY_SOURCE_SHARED',
} as const;
export type MultitaskPromptTuningInit = (typeof MultitaskPromptTuningInit)[keyof typeof MultitaskPromptTuningInit];

/** The init modes that start from a source adapter (`prompt_tuning_init_state_dict_path`). */
export const SOURCE_INITS: readonly MultitaskPromptTuningInit[] = ['AVERAGE_SOURCE_TASKS', 'EXACT_SOURCE_TASK', 'ONLY_SOURCE_SHARED'];

/**
 * MultitaskPromptTuningConfig of PEFT 0.11.1 (a PromptTuningConfig): every field and default.
 * Like PEFT's, its `__post_init__` checks nothing beyond the type; TEXT and the source inits are
 * checked when the prompt is built.
 */
export const multitaskPromptTuningConfigSchema = defineConfigSchema({
  peftType: MULTITASK_PROMPT_TUNING_PEFT_TYPE,
  fields: {
    ...promptLearningFields,
    prompt_tuning_init: fields.oneOf<MultitaskPromptTuningInit>('RANDOM', ['RANDOM', 'TEXT', 'AVERAGE_SOURCE_TASKS', 'EXACT_SOURCE_TASK', 'ONLY_SOURCE_SHARED']),
    prompt_tuning_init_text: fields.nullableString(null),
    tokenizer_name_or_path: fields.nullableString(null),
    tokenizer_kwargs: fields.json<Record<string, unknown> | null>(null),
    prompt_tuning_init_state_dict_path: fields.nullableString(null),
    prompt_tuning_init_task: fields.integer(0, { min: 0 }),
    num_ranks: fields.integer(1, { min: 1 }),
    num_tasks: fields.integer(1, { min: 1 }),
  },
  check: (config) => {
    checkNumVirtualTokens(config);
    refuseTargetFields(config);
  },
});

export type MultitaskPromptTuningConfig = ReturnType<typeof multitaskPromptTuningConfigSchema.parse>;

/** A source adapter's tensors: what PEFT saves for multitask prompt tuning. */
export interface MultitaskSourceStateDict {
  prompt_embeddings: tf.Tensor;
  prefix_task_cols?: tf.Tensor;
  prefix_task_rows?: tf.Tensor;
}

export type MultitaskPromptTuningConfigOptions = Partial<Omit<MultitaskPromptTuningConfig, 'peftType'>> & {
  /** For `promptTuningInit: 'TEXT'`: encodes `promptTuningInitText` (never written to adapter_config.json). */
  tokenizer?: PromptTokenizer;
  /**
   * For the source inits: the source adapter's tensors (`prompt_embeddings`, `prefix_task_cols`,
   * `prefix_task_rows`), instead of reading `promptTuningInitStateDictPath` (see
   * `loadMultitaskPromptTuningSource`). Kept by the config, never written to JSON; not disposed.
   */
  sourceStateDict?: Readonly<Record<string, tf.Tensor>>;
};

const SOURCE = Symbol.for('peftjs.promptTuning.multitaskSource');

/** The source adapter tensors attached to a config, if any. */
export function attachedSourceStateDict(config: object): Readonly<Record<string, tf.Tensor>> | undefined {
  return (config as Record<symbol, Readonly<Record<string, tf.Tensor>> | undefined>)[SOURCE];
}

/** Attaches a source adapter's tensors to a parsed config (kept through config copies, never serialized). */
export function attachSourceStateDict<C extends object>(config: C, tensors: Readonly<Record<string, tf.Tensor>> | undefined): C {
  if (tensors !== undefined) {
    if (typeof tensors !== 'object' || tensors === null || !(tensors.prompt_embeddings instanceof tf.Tensor)) {
      throw new InvalidConfigError('sourceStateDict must hold the source adapter\'s "prompt_embeddings" tensor (and "prefix_task_cols" / "prefix_task_rows")', {
        field: 'prompt_tuning_init_state_dict_path',
      });
    }
    (config as Record<symbol, unknown>)[SOURCE] = tensors;
  }
  return config;
}

/** Parses PEFT JSON or camelCase options; the `tokenizer` and `sourceStateDict` options ride along, unserialized. */
export function parseMultitaskPromptTuningConfig(raw: unknown): MultitaskPromptTuningConfig {
  const { rest, tokenizer } = takeTokenizer(raw);
  let source: Readonly<Record<string, tf.Tensor>> | undefined;
  let plain = rest;
  if (typeof rest === 'object' && rest !== null && !Array.isArray(rest)) {
    const { sourceStateDict, ...others } = rest as Record<string, unknown>;
    source = (sourceStateDict as Readonly<Record<string, tf.Tensor>> | undefined) ?? attachedSourceStateDict(raw as object);
    plain = others;
  }
  return attachSourceStateDict(attachTokenizer(multitaskPromptTuningConfigSchema.parse(plain), tokenizer), source);
}

/** A multitask prompt-tuning config from camelCase options (or PEFT's snake_case JSON), every default filled in. */
export function createMultitaskPromptTuningConfig(options: MultitaskPromptTuningConfigOptions | Record<string, unknown> = {}): MultitaskPromptTuningConfig {
  return parseMultitaskPromptTuningConfig({ ...options, peftType: MULTITASK_PROMPT_TUNING_PEFT_TYPE });
}
