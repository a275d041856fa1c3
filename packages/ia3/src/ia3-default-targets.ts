import type { TargetDefaults } from '@peftjs/core';

const table: Record<string, [string[], string[]]> = {
  t5: [['k', 'v', 'wo'], ['wo']],
  mt5: [['k', 'v', 'wi_1'], []],
  gpt2: [['c_attn', 'mlp.c_proj'], ['mlp.c_proj']],
  bloom: [['query_key_value', 'mlp.dense_4h_to_h'], ['mlp.dense_4h_to_h']],
  roberta: [['key', 'value', 'output.dense'], ['output.dense']],
  opt: [['q_proj', 'k_proj', 'fc2'], ['fc2']],
  gptj: [['q_proj', 'v_proj', 'fc_out'], ['fc_out']],
  gpt_neox: [['query_key_value', 'dense_4h_to_h'], ['dense_4h_to_h']],
  gpt_neo: [['q_proj', 'v_proj', 'c_proj'], ['c_proj']],
  bart: [['q_proj', 'v_proj', 'fc2'], ['fc2']],
  gpt_bigcode: [['c_attn', 'mlp.c_proj'], ['mlp.c_proj']],
  llama: [['k_proj', 'v_proj', 'down_proj'], ['down_proj']],
  mistral: [['k_proj', 'v_proj', 'down_proj'], ['down_proj']],
  mixtral: [['k_proj', 'v_proj', 'w2'], ['w2']],
  bert: [['key', 'value', 'output.dense'], ['output.dense']],
  'deberta-v2': [['key_proj', 'value_proj', 'output.dense'], ['output.dense']],
  deberta: [['in_proj', 'output.dense'], ['output.dense']],
  RefinedWebModel: [['query_key_value', 'dense_4h_to_h'], ['dense_4h_to_h']],
  RefinedWeb: [['query_key_value', 'dense_4h_to_h'], ['dense_4h_to_h']],
  falcon: [['query_key_value', 'dense_4h_to_h'], ['dense_4h_to_h']],
  phi: [['q_proj', 'v_proj', 'fc2'], ['fc2']],
  gemma: [['q_proj', 'v_proj', 'down_proj'], ['down_proj']],
};

/** PEFT 0.11.1's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING and ..._FEEDFORWARD_MODULES_MAPPING. */
export const IA3_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = Object.fromEntries(
  Object.entries(table).map(([modelType, [targetModules, feedforwardModules]]) => [modelType, { targetModules, feedforwardModules }]),
);
