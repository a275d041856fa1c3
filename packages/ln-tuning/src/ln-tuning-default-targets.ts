import { targetModulesTable, type TargetDefaults } from '@peftjs/core';

/** PEFT 0.11.1's TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING. */
export const LN_TUNING_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = targetModulesTable({
  llama: ['input_layernorm', 'post_attention_layernorm', 'norm'],
  bloom: ['input_layernorm', 'post_attention_layernorm', 'ln_f'],
  llava: ['multi_modal_projector', 'input_layernorm', 'post_attention_layernorm', 'norm', 'embed_tokens', 'lm_head'],
  t5: ['layer_norm', 'final_layer_norm'],
  mt5: ['layer_norm', 'final_layer_norm'],
  bart: ['self_attn_layer_norm', 'encoder_attn_layer_norm', 'final_layer_norm'],
  gpt2: ['ln_1', 'ln_2', 'ln_f'],
  'blip-2': ['layernorm', 'LayerNorm', 'final_layer_norm', 'self_attn_layer_norm'],
  gptj: ['ln_1', 'ln_f'],
  falcon: ['input_layernorm', 'post_attention_layernorm', 'ln_f'],
  mistral: ['input_layernorm', 'post_attention_layernorm', 'norm'],
  phi: ['input_layernorm', 'final_layernorm'],
  gemma: ['input_layernorm', 'post_attention_layernorm', 'norm'],
});
