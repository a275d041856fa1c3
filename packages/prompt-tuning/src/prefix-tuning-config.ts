import { defineConfigSchema, fields } from '@peftjs/core';
import { checkNumVirtualTokens, PREFIX_TUNING_PEFT_TYPE, promptLearningFields, refuseTargetFields } from './prompt-learning-config';

/** PrefixTuningConfig of PEFT 0.11.1: every field and default. */
export const prefixTuningConfigSchema = defineConfigSchema({
  peftType: PREFIX_TUNING_PEFT_TYPE,
  fields: {
    ...promptLearningFields,
    encoder_hidden_size: fields.nullableInteger(null, { min: 1 }),
    prefix_projection: fields.boolean(false),
  },
  help: {
    encoder_hidden_size: "the prefix projection's hidden size (null: token_dim)",
    prefix_projection: 'produce the prefix with a two-layer MLP (trained) instead of storing it directly',
  },
  check: (config) => {
    checkNumVirtualTokens(config);
    refuseTargetFields(config);
  },
});

export type PrefixTuningConfig = ReturnType<typeof prefixTuningConfigSchema.parse>;
export type PrefixTuningConfigOptions = Partial<Omit<PrefixTuningConfig, 'peftType'>>;

/** A prefix-tuning config from camelCase options (or PEFT's snake_case JSON), every default filled in. */
export function createPrefixTuningConfig(options: PrefixTuningConfigOptions | Record<string, unknown> = {}): PrefixTuningConfig {
  return prefixTuningConfigSchema.parse({ ...options, peftType: PREFIX_TUNING_PEFT_TYPE });
}
