import { InvalidConfigError, type TunerV1 } from '@peftjs/core';
import { PROMPT_TUNING_PEFT_TYPE } from './prompt-learning-config';
import { createPromptLearningTuner } from './prompt-learning-tuner';
import { attachedTokenizer, textInitTokenIds } from './prompt-tokenizer';
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
    let initTokenIds: number[] | null = null;
    // PEFT initialises from text only for training; a loaded adapter brings its own values.
    if (config.promptTuningInit === 'TEXT' && !config.inferenceMode) {
      const tokenizer = attachedTokenizer(context.config);
      if (!tokenizer) {
        throw new InvalidConfigError(
          `prompt_tuning_init 'TEXT' needs a tokenizer for ${JSON.stringify(config.tokenizerNameOrPath)}: pass { tokenizer } to createPromptTuningConfig (e.g. await AutoTokenizer.fromPretrained(...) from @peftjs/models)`,
          { field: 'tokenizer_name_or_path' },
        );
      }
      initTokenIds = textInitTokenIds(tokenizer, config.promptTuningInitText!, total);
      const tokenEmbedding = (baseLayer as unknown as { embeddingLayer?: unknown }).embeddingLayer ?? baseLayer;
      const vocab = (tokenEmbedding as { inputDim?: number }).inputDim;
      const outside = initTokenIds.find((id) => vocab !== undefined && id >= vocab);
      if (outside !== undefined) {
        throw new InvalidConfigError(`prompt_tuning_init_text encodes to token id ${outside}, outside the model's vocabulary of ${vocab}`, { field: 'prompt_tuning_init_text' });
      }
    }
    return { numVirtualTokens: config.numVirtualTokens, totalVirtualTokens: total, tokenDim: config.tokenDim, methodPrefix: 'prompt_tuning_', encoder: null, initTokenIds };
  },
});
