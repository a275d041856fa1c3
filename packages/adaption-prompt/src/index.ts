export { adaptionPrompt, createAdaptionPrompt } from './adaption-prompt-tuner';
export {
  ADAPTION_PROMPT_PEFT_TYPE,
  adaptionPromptConfigSchema,
  createAdaptionPromptConfig,
  type AdaptionPromptConfig,
  type AdaptionPromptConfigOptions,
} from './adaption-prompt-config';
export { ADAPTION_PROMPT_MODEL_TYPES, ADAPTION_PROMPT_DEFAULT_TARGETS, type AdaptionPromptModelType } from './adaption-prompt-model-types';
export { AdaptedAttention, type AdaptedAttentionOptions, type AttentionProjections } from './adapted-attention-layer';
export { AdaptedOutputProjection } from './adapted-output-projection-layer';
export { adaptionPromptStateDictFormat, ADAPTION_KEY_PREFIX } from './adaption-prompt-state-dict';
