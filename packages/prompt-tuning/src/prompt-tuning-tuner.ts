import type { TunerV1 } from '@peftjs/core';
import { PROMPT_TUNING_PEFT_TYPE } from './prompt-learning-config';
import { createPromptLearningTuner } from './prompt-learning-tuner';
import { textInitIds } from './text-init';
import { parsePromptTuningConfig, promptTuningConfigSchema, type PromptTuningConfig } from './prompt-tuning-config';

/**
 * Prompt tuning (PEFT's PROMPT_TUNING): `num_virtual_tokens` trainable embeddings prepended to
 * the input embeddings. Register it with `registerTuner(promptTuning)`.
 */
export const promptTuning: TunerV1<PromptTuningConfig> = createPromptLearningTuner<PromptTuningConfig>({
  peftType: PROMPT_TUNING_PEFT_TYPE,
  weightPrefix: 'prompt_tuning_',
  kind: 'input',
  configFields: promptTuningConfigSchema.fields,
  parseConfig: parsePromptTuningConfig,
  serializeConfig: (config) => promptTuningConfigSchema.serialize(config),
  embeddingOptions(config, context, baseLayer) {
    const total = config.numVirtualTokens * config.numTransformerSubmodules;
    const initTokenIds = textInitIds(config, context.config, baseLayer, total);
    return { numVirtualTokens: config.numVirtualTokens, totalVirtualTokens: total, tokenDim: config.tokenDim, methodPrefix: 'prompt_tuning_', encoder: null, initTokenIds };
  },
});
