import type { TargetDefaults } from '@peftjs/core';

/**
 * PEFT 0.11.1's TRANSFORMERS_MODELS_TO_BOFT_TARGET_MODULES_MAPPING, which is LoRA's table. Entries
 * that name GPT-2-style Conv1D layers (gpt2, gpt_bigcode, btlm) fail in PEFT too: BOFT wraps
 * Linear and Conv2d only.
 */
export const BOFT_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = Object.freeze(
  Object.fromEntries(
    Object.entries({
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
    }).map(([modelType, targetModules]) => [modelType, Object.freeze({ targetModules: Object.freeze(targetModules) })]),
  ),
);
