import { defineConfigSchema, fields, InvalidConfigError } from '@peftjs/core';
import { checkNumVirtualTokens, PROMPT_TUNING_PEFT_TYPE, promptLearningFields, refuseTargetFields } from './prompt-learning-config';
import { attachTokenizer, takeTokenizer, type PromptTokenizer } from './prompt-tokenizer';

/** PEFT's `PromptTuningInit`. */
export const PromptTuningInit = { TEXT: 'TEXT', RANDOM: 'RANDOM' } as const;
export type PromptTuningInit = (typeof PromptTuningInit)[keyof typeof PromptTuningInit];

/** PromptTuningConfig of PEFT 0.11.1: every field and default. */
export const promptTuningConfigSchema = defineConfigSchema({
  peftType: PROMPT_TUNING_PEFT_TYPE,
  fields: {
    ...promptLearningFields,
    prompt_tuning_init: fields.oneOf<PromptTuningInit>('RANDOM', ['RANDOM', 'TEXT']),
    prompt_tuning_init_text: fields.nullableString(null),
    tokenizer_name_or_path: fields.nullableString(null),
    tokenizer_kwargs: fields.json<Record<string, unknown> | null>(null),
  },
  help: {
    prompt_tuning_init: "'RANDOM', or 'TEXT' (initialise from the embeddings of prompt_tuning_init_text)",
    prompt_tuning_init_text: "the text whose token embeddings start the prompt ('TEXT')",
    tokenizer_name_or_path: "the tokenizer of the text ('TEXT')",
    tokenizer_kwargs: 'options for that tokenizer',
  },
  check: (config) => {
    checkNumVirtualTokens(config);
    refuseTargetFields(config);
    // PEFT's PromptTuningConfig.__post_init__.
    if (config.promptTuningInit === 'TEXT' && !config.tokenizerNameOrPath) {
      throw new InvalidConfigError(`When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be null`, { field: 'tokenizer_name_or_path' });
    }
    if (config.promptTuningInit === 'TEXT' && config.promptTuningInitText === null) {
      throw new InvalidConfigError(`When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be null`, { field: 'prompt_tuning_init_text' });
    }
    if (config.tokenizerKwargs !== null && (typeof config.tokenizerKwargs !== 'object' || Array.isArray(config.tokenizerKwargs))) {
      throw new InvalidConfigError(`tokenizer_kwargs must be an object or null; got ${JSON.stringify(config.tokenizerKwargs)}`, { field: 'tokenizer_kwargs' });
    }
    if (config.tokenizerKwargs !== null && config.promptTuningInit !== 'TEXT') {
      throw new InvalidConfigError(`tokenizer_kwargs only valid when using prompt_tuning_init='TEXT'`, { field: 'tokenizer_kwargs' });
    }
  },
});

export type PromptTuningConfig = ReturnType<typeof promptTuningConfigSchema.parse>;

export type PromptTuningConfigOptions = Partial<Omit<PromptTuningConfig, 'peftType'>> & {
  /** For `promptTuningInit: 'TEXT'`: encodes `promptTuningInitText` (never written to adapter_config.json). */
  tokenizer?: PromptTokenizer;
};

/** Parses PEFT JSON or camelCase options; a `tokenizer` option rides along, unserialized. */
export function parsePromptTuningConfig(raw: unknown): PromptTuningConfig {
  const { rest, tokenizer } = takeTokenizer(raw);
  return attachTokenizer(promptTuningConfigSchema.parse(rest), tokenizer);
}

/** A prompt-tuning config from camelCase options (or PEFT's snake_case JSON), every default filled in. */
export function createPromptTuningConfig(options: PromptTuningConfigOptions | Record<string, unknown> = {}): PromptTuningConfig {
  return parsePromptTuningConfig({ ...options, peftType: PROMPT_TUNING_PEFT_TYPE });
}
