/** What PEFT 0.11.1's `TRANSFORMERS_MODEL_CONFIG` (adaption_prompt/config.py) says about a model type. */
export interface AdaptionPromptModelType {
  /** The attention module's attribute name in each decoder layer: the default `target_modules`. */
  readonly targetModules: string;
  /** The projections, as children of the attention module. */
  readonly kProjLayer: string;
  readonly vProjLayer: string;
  readonly oProjLayer: string;
}

const LLAMA_LIKE: AdaptionPromptModelType = { targetModules: 'self_attn', kProjLayer: 'k_proj', vProjLayer: 'v_proj', oProjLayer: 'o_proj' };

/** The model types PEFT 0.11.1 supports for adaption prompts: Llama and Mistral only. */
export const ADAPTION_PROMPT_MODEL_TYPES: Readonly<Record<string, AdaptionPromptModelType>> = {
  llama: LLAMA_LIKE,
  mistral: LLAMA_LIKE,
};

/** PEFT's default target per model type, in the shape other tuners give defaults. */
export const ADAPTION_PROMPT_DEFAULT_TARGETS: Readonly<Record<string, { targetModules: readonly string[] }>> = Object.fromEntries(
  Object.entries(ADAPTION_PROMPT_MODEL_TYPES).map(([modelType, entry]) => [modelType, { targetModules: [entry.targetModules] }]),
);
