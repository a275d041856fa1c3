export { promptTuning } from './prompt-tuning-tuner';
export { pTuning } from './p-tuning-tuner';
export { prefixTuning } from './prefix-tuning-tuner';
export { createPromptLearningTuner, type PromptMethod } from './prompt-learning-tuner';
export {
  PROMPT_TUNING_PEFT_TYPE,
  P_TUNING_PEFT_TYPE,
  PREFIX_TUNING_PEFT_TYPE,
  promptLearningFields,
  type PromptLearningConfig,
  type PreparedPromptConfig,
} from './prompt-learning-config';
export {
  createPromptTuningConfig,
  parsePromptTuningConfig,
  promptTuningConfigSchema,
  PromptTuningInit,
  type PromptTuningConfig,
  type PromptTuningConfigOptions,
} from './prompt-tuning-config';
export {
  createPromptEncoderConfig,
  promptEncoderConfigSchema,
  PromptEncoderReparameterizationType,
  type PromptEncoderConfig,
  type PromptEncoderConfigOptions,
} from './prompt-encoder-config';
export { createPrefixTuningConfig, prefixTuningConfigSchema, type PrefixTuningConfig, type PrefixTuningConfigOptions } from './prefix-tuning-config';
export { textInitTokenIds, type PromptTokenizer } from './prompt-tokenizer';
export { PromptEmbedding, type PromptEmbeddingOptions, type PromptEncoderOptions } from './prompt-embedding-layer';
export { PromptAttentionMask } from './prompt-attention-mask-layer';
export { PromptTokenTypes } from './prompt-token-types-layer';
export { PrefixPositionIds } from './prefix-position-ids-layer';
export { PrefixAttention, type PrefixAttentionOptions } from './prefix-attention-layer';
export { PromptLearningLayer, type PromptLayerOptions } from './prompt-learning-layer';
export { PromptSource } from './prompt-source';
export { promptStateDictFormat, PROMPT_EMBEDDINGS_KEY } from './prompt-state-dict';
export { withoutPromptInjection, promptInjectionEnabled } from './prompt-injection';
export {
  activePrompt,
  padLabels,
  causalLmLoss,
  promptCausalLmLoss,
  forwardCausalLm,
  IGNORE_INDEX,
  type ActivePrompt,
  type CausalLmInputs,
  type CausalLmOutput,
} from './causal-lm';
export { promptGenerationHooks } from './prompt-generation';
export { multitaskPromptTuning } from './multitask-prompt-tuning-tuner';
export {
  MULTITASK_PROMPT_TUNING_PEFT_TYPE,
  MultitaskPromptTuningInit,
  createMultitaskPromptTuningConfig,
  parseMultitaskPromptTuningConfig,
  multitaskPromptTuningConfigSchema,
  type MultitaskPromptTuningConfig,
  type MultitaskPromptTuningConfigOptions,
  type MultitaskSourceStateDict,
} from './multitask-prompt-tuning-config';
export { loadMultitaskPromptTuningSource, type SafetensorsFileReader } from './multitask-prompt-source';
export { MultitaskPromptEmbedding, currentTaskIds, type MultitaskPromptEmbeddingOptions } from './multitask-prompt-embedding-layer';
export { multitaskPromptStateDictFormat, PREFIX_TASK_COLS_KEY, PREFIX_TASK_ROWS_KEY } from './multitask-prompt-state-dict';
