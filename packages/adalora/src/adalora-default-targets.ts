import { targetModulesTable, type TargetDefaults } from '@peftjs/core';

/** PEFT 0.11.1's TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING. */
export const ADALORA_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = targetModulesTable({
  t5: ['q', 'k', 'v', 'o', 'wi', 'wo'],
  mt5: ['q', 'k', 'v', 'o', 'wi_0', 'wi_1', 'wo'],
  bart: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'],
  gpt2: ['c_attn'],
  bloom: ['query_key_value'],
  opt: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'],
  gptj: ['q_proj', 'v_proj'],
  gpt_neox: ['query_key_value'],
  gpt_neo: ['q_proj', 'v_proj'],
  llama: ['q_proj', 'v_proj'],
  bert: ['query', 'value'],
  roberta: ['query', 'key', 'value', 'dense'],
  'deberta-v2': ['query_proj', 'key_proj', 'value_proj', 'dense'],
  gpt_bigcode: ['c_attn'],
  deberta: ['in_proj'],
});
