import { defineConfigSchema, fields } from '@peftjs/core';
import { checkNumVirtualTokens, P_TUNING_PEFT_TYPE, promptLearningFields, refuseTargetFields } from './prompt-learning-config';

/** PEFT's `PromptEncoderReparameterizationType`. */
export const PromptEncoderReparameterizationType = { MLP: 'MLP', LSTM: 'LSTM' } as const;
export type PromptEncoderReparameterizationType = (typeof PromptEncoderReparameterizationType)[keyof typeof PromptEncoderReparameterizationType];

/** PromptEncoderConfig (P-tuning) of PEFT 0.11.1: every field and default. */
export const promptEncoderConfigSchema = defineConfigSchema({
  peftType: P_TUNING_PEFT_TYPE,
  fields: {
    ...promptLearningFields,
    encoder_reparameterization_type: fields.oneOf<PromptEncoderReparameterizationType>('MLP', ['MLP', 'LSTM']),
    encoder_hidden_size: fields.nullableInteger(null, { min: 1 }),
    encoder_num_layers: fields.integer(2, { min: 1 }),
    encoder_dropout: fields.number(0, { min: 0, max: 1, maxExclusive: true }),
  },
  help: {
    encoder_reparameterization_type: "the prompt encoder: 'MLP' or 'LSTM'",
    encoder_hidden_size: "the encoder's hidden size (null: token_dim)",
    encoder_num_layers: "the encoder's layers",
    encoder_dropout: 'dropout in the encoder while training',
  },
  check: (config) => {
    checkNumVirtualTokens(config);
    refuseTargetFields(config);
  },
});

export type PromptEncoderConfig = ReturnType<typeof promptEncoderConfigSchema.parse>;
export type PromptEncoderConfigOptions = Partial<Omit<PromptEncoderConfig, 'peftType'>>;

/** A P-tuning config from camelCase options (or PEFT's snake_case JSON), every default filled in. */
export function createPromptEncoderConfig(options: PromptEncoderConfigOptions | Record<string, unknown> = {}): PromptEncoderConfig {
  return promptEncoderConfigSchema.parse({ ...options, peftType: P_TUNING_PEFT_TYPE });
}
