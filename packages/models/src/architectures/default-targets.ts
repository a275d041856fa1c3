import { registerTargetDefaults, type TargetDefaults } from '@peftjs/core';

/** PEFT 0.11.1 `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`. */
export const LORA_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = {
  t5: ['q', 'v'],
  mt5: ['q', 'v'],
  bart: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
  bloom: ['query_key_value'],
  'blip-2': ['q', 'v', 'q_proj', 'v_proj'],
  opt: ['q_proj', 'v_proj'],
  gptj: ['q_proj', 'v_proj'],
  gpt_neox: ['query_key_value'],
  gpt_neo: ['q_proj', 'v_proj'],
  bert: ['query', 'value'],
  roberta: ['query', 'value'],
  'xlm-roberta': ['query', 'value'],
  electra: ['query', 'value'],
  'deberta-v2': ['query_proj', 'value_proj'],
  deberta: ['in_proj'],
  layoutlm: ['query', 'value'],
  llama: ['q_proj', 'v_proj'],
  chatglm: ['query_key_value'],
  gpt_bigcode: ['c_attn'],
  mpt: ['Wqkv'],
  RefinedWebModel: ['query_key_value'],
  RefinedWeb: ['query_key_value'],
  falcon: ['query_key_value'],
  btlm: ['c_proj', 'c_attn'],
  codegen: ['qkv_proj'],
  mistral: ['q_proj', 'v_proj'],
  mixtral: ['q_proj', 'v_proj'],
  stablelm: ['q_proj', 'v_proj'],
  phi: ['q_proj', 'v_proj', 'fc1', 'fc2'],
  gemma: ['q_proj', 'v_proj'],
  // Not in PEFT 0.11.1's table (it raises for qwen2 without explicit targets); later PEFT uses these.
  qwen2: ['q_proj', 'v_proj'],
};

/** PEFT 0.11.1 `TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING`. */
export const IA3_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = {
  t5: ['k', 'v', 'wo'],
  mt5: ['k', 'v', 'wi_1'],
  gpt2: ['c_attn', 'mlp.c_proj'],
  bloom: ['query_key_value', 'mlp.dense_4h_to_h'],
  roberta: ['key', 'value', 'output.dense'],
  opt: ['q_proj', 'k_proj', 'fc2'],
  gptj: ['q_proj', 'v_proj', 'fc_out'],
  gpt_neox: ['query_key_value', 'dense_4h_to_h'],
  gpt_neo: ['q_proj', 'v_proj', 'c_proj'],
  bart: ['q_proj', 'v_proj', 'fc2'],
  gpt_bigcode: ['c_attn', 'mlp.c_proj'],
  llama: ['k_proj', 'v_proj', 'down_proj'],
  mistral: ['k_proj', 'v_proj', 'down_proj'],
  mixtral: ['k_proj', 'v_proj', 'w2'],
  bert: ['key', 'value', 'output.dense'],
  'deberta-v2': ['key_proj', 'value_proj', 'output.dense'],
  deberta: ['in_proj', 'output.dense'],
  RefinedWebModel: ['query_key_value', 'dense_4h_to_h'],
  RefinedWeb: ['query_key_value', 'dense_4h_to_h'],
  falcon: ['query_key_value', 'dense_4h_to_h'],
  phi: ['q_proj', 'v_proj', 'fc2'],
  gemma: ['q_proj', 'v_proj', 'down_proj'],
};

/** PEFT 0.11.1 `TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING`. */
export const IA3_FEEDFORWARD_MODULES: Readonly<Record<string, readonly string[]>> = {
  t5: ['wo'],
  mt5: [],
  gpt2: ['mlp.c_proj'],
  bloom: ['mlp.dense_4h_to_h'],
  roberta: ['output.dense'],
  opt: ['fc2'],
  gptj: ['fc_out'],
  gpt_neox: ['dense_4h_to_h'],
  gpt_neo: ['c_proj'],
  bart: ['fc2'],
  gpt_bigcode: ['mlp.c_proj'],
  llama: ['down_proj'],
  mistral: ['down_proj'],
  mixtral: ['w2'],
  bert: ['output.dense'],
  'deberta-v2': ['output.dense'],
  deberta: ['output.dense'],
  RefinedWebModel: ['dense_4h_to_h'],
  RefinedWeb: ['dense_4h_to_h'],
  falcon: ['dense_4h_to_h'],
  phi: ['fc2'],
  gemma: ['down_proj'],
};

/**
 * Prefix tuning needs no target modules; PEFT 0.11.1 only post-processes the past key/values for
 * `bloom` (keys transposed, heads folded into the batch) and `gpt_bigcode` (fused multi-query kv).
 * Every model built here takes past keys/values as `[batch, kvHeads, past, headDim]`, as
 * transformers' Llama, Mistral, Qwen2 and GPT-2 do, so none needs a postprocess.
 */
export const PREFIX_TUNING_POSTPROCESS: Readonly<Record<string, string>> = {
  bloom: 'bloom_model_postprocess_past_key_value',
  gpt_bigcode: 'starcoder_model_postprocess_past_key_value',
};

let registered = false;

/** Registers PEFT's default LoRA and IA3 targets for every model type in PEFT's tables (idempotent). */
export function registerDefaultTargets(): void {
  if (registered) return;
  registered = true;
  for (const [modelType, targets] of Object.entries(LORA_TARGET_MODULES)) {
    registerTargetDefaults('LORA', modelType, { targetModules: targets });
  }
  for (const [modelType, targets] of Object.entries(IA3_TARGET_MODULES)) {
    const defaults: TargetDefaults = { targetModules: targets, feedforwardModules: IA3_FEEDFORWARD_MODULES[modelType] ?? [] };
    registerTargetDefaults('IA3', modelType, defaults);
  }
}
