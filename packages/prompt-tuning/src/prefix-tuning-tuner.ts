import type { TunerV1 } from '@peftjs/core';
import { PREFIX_TUNING_PEFT_TYPE } from './prompt-learning-config';
import { createPromptLearningTuner } from './prompt-learning-tuner';
import { prefixTuningConfigSchema, type PrefixTuningConfig } from './prefix-tuning-config';

/**
 * Prefix tuning (PEFT's PREFIX_TUNING): trainable key/value prefixes in every attention layer,
 * as PEFT passes them in `past_key_values`, optionally through a `Linear – Tanh – Linear`
 * projection while training. Register it with `registerTuner(prefixTuning)`.
 */
export const prefixTuning: TunerV1<PrefixTuningConfig> = createPromptLearningTuner<PrefixTuningConfig>({
  peftType: PREFIX_TUNING_PEFT_TYPE,
  weightPrefix: 'prefix_tuning_',
  kind: 'prefix',
  configFields: prefixTuningConfigSchema.fields,
  parseConfig: (raw) => prefixTuningConfigSchema.parse(raw),
  serializeConfig: (config) => prefixTuningConfigSchema.serialize(config),
  prepareMethodConfig: (config) => ({ ...config, encoderHiddenSize: config.encoderHiddenSize ?? config.tokenDim }),
  prefixEncoder: (config) => ({
    // In inference mode PEFT keeps only the embedding of the already-projected prefix.
    prefixProjection: config.prefixProjection && !config.inferenceMode,
    encoderHiddenSize: config.encoderHiddenSize ?? config.tokenDim,
  }),
});
