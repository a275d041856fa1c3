import type { TargetDefaults } from '../spec/tuner-v1';

/** A frozen default-target table from `model type → target module names`, the shape of PEFT's constants. */
export function targetModulesTable(entries: Readonly<Record<string, readonly string[]>>): Readonly<Record<string, TargetDefaults>> {
  return Object.freeze(
    Object.fromEntries(Object.entries(entries).map(([modelType, targetModules]) => [modelType, Object.freeze({ targetModules: Object.freeze([...targetModules]) })])),
  );
}

/**
 * The default-target table that PEFT 0.11.1 shares between several methods (constants.py names it
 * after the first of them; others read it as is or keep a trimmed copy). Shared data, not a
 * lookup: core applies no default by itself; each method's tuner sets its own `defaultTargets`.
 */
export const SHARED_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = targetModulesTable({
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
});
