import { defineConfigSchema, fields, InvalidConfigError } from '@peftjs/core';

export const ADAPTION_PROMPT_PEFT_TYPE = 'ADAPTION_PROMPT';

/**
 * AdaptionPromptConfig of PEFT 0.11.1: `target_modules` is ONE attribute name (the attention
 * module of each decoder layer, `self_attn` for Llama and Mistral), not a list; `adapter_len`
 * and `adapter_layers` have no default in PEFT, and nothing works without them.
 */
export const adaptionPromptConfigSchema = defineConfigSchema({
  peftType: ADAPTION_PROMPT_PEFT_TYPE,
  fields: {
    target_modules: fields.nullableString(null),
    adapter_len: fields.nullableInteger(null, { min: 1 }),
    adapter_layers: fields.nullableInteger(null, { min: 1 }),
  },
  check: (config) => {
    if (config.adapterLen === null) {
      throw new InvalidConfigError('ADAPTION_PROMPT needs adapter_len (the number of adapter tokens, an integer >= 1), e.g. { adapterLen: 10 }', { field: 'adapter_len' });
    }
    if (config.adapterLayers === null) {
      throw new InvalidConfigError('ADAPTION_PROMPT needs adapter_layers (how many of the top decoder layers get adapters, an integer >= 1), e.g. { adapterLayers: 30 }', {
        field: 'adapter_layers',
      });
    }
  },
});

export type AdaptionPromptConfig = ReturnType<typeof adaptionPromptConfigSchema.parse>;
export type AdaptionPromptConfigOptions = Partial<Omit<AdaptionPromptConfig, 'peftType'>>;

/** An adaption-prompt config from camelCase options (or PEFT's snake_case JSON), every default filled in. */
export function createAdaptionPromptConfig(options: AdaptionPromptConfigOptions | Record<string, unknown> = {}): AdaptionPromptConfig {
  return adaptionPromptConfigSchema.parse({ ...options, peftType: ADAPTION_PROMPT_PEFT_TYPE });
}
