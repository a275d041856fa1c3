import { describeField, fields, InvalidConfigError, type ModelContext, type PeftConfig } from '@peftjs/core';

export const PROMPT_TUNING_PEFT_TYPE = 'PROMPT_TUNING';
export const P_TUNING_PEFT_TYPE = 'P_TUNING';
export const PREFIX_TUNING_PEFT_TYPE = 'PREFIX_TUNING';

/** PEFT 0.11.1 `PromptLearningConfig`: the fields every prompt method has (null: filled from the model). */
export const promptLearningFields = {
  num_virtual_tokens: describeField(fields.nullableInteger(null, { min: 1 }), { required: true, help: 'virtual tokens' }),
  token_dim: describeField(fields.nullableInteger(null, { min: 1 }), { help: "the model's hidden size (null: from the model)" }),
  num_transformer_submodules: describeField(fields.nullableInteger(null, { min: 1 }), { help: '1 for decoder-only models, 2 for encoder-decoders (null: from the model)' }),
  num_attention_heads: describeField(fields.nullableInteger(null, { min: 1 }), { help: "the model's heads (null: from the model)" }),
  num_layers: describeField(fields.nullableInteger(null, { min: 1 }), { help: "the model's layers (null: from the model)" }),
};

/** The typed fields of every prompt-learning config. */
export interface PromptLearningConfig extends PeftConfig {
  numVirtualTokens: number | null;
  tokenDim: number | null;
  numTransformerSubmodules: number | null;
  numAttentionHeads: number | null;
  numLayers: number | null;
  /**
   * Set for SEQ_CLS from the model (never read from or written to JSON): PEFT's
   * PeftModelForSequenceClassification trains and saves the classifier (`classifier`, `score`).
   */
  modulesToSave?: string[] | null;
}

/** A prompt-learning config after `prepareConfig`: every size known. */
export type PreparedPromptConfig<C extends PromptLearningConfig> = C & {
  numVirtualTokens: number;
  tokenDim: number;
  numTransformerSubmodules: number;
  numAttentionHeads: number;
  numLayers: number;
};

/** `num_virtual_tokens` is None by default in PEFT, but nothing works without it. */
export function checkNumVirtualTokens(config: PromptLearningConfig): void {
  if (config.numVirtualTokens === null) {
    throw new InvalidConfigError(`${config.peftType} needs num_virtual_tokens (an integer >= 1), e.g. { numVirtualTokens: 20 }`, { field: 'num_virtual_tokens' });
  }
}

/** Prompt methods pick their layers themselves; a target list means the config was meant for another method. */
export function refuseTargetFields(config: PeftConfig): void {
  for (const key of ['target_modules', 'layers_to_transform'] as const) {
    if (config.extraFields && key in config.extraFields) {
      throw new InvalidConfigError(`${config.peftType} has no "${key}": prompt learning adds virtual tokens to the whole model instead of adapting chosen layers`, { field: key });
    }
  }
}

function firstNumber(source: Readonly<Record<string, unknown>> | undefined, keys: readonly string[]): number | undefined {
  if (!source) return undefined;
  for (const key of keys) {
    const value = source[key];
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  }
  return undefined;
}

/** Sizes read from the model's layers when there is no config.json (a custom model). */
export interface LayerSizes {
  numLayers?: number;
  tokenDim?: number;
  numAttentionHeads?: number;
  numKeyValueHeads?: number;
}

/**
 * PEFT's `_prepare_prompt_learning_config`: the sizes left null are read from the model's
 * transformers config (`num_hidden_layers` | `num_layers` | `n_layer`, `hidden_size` | `n_embd` |
 * `d_model`, `num_attention_heads` | `n_head` | `num_heads` | `encoder_attention_heads`), then from
 * a registered architecture, then from the model's layers; `num_transformer_submodules` is 2 for
 * SEQ_2_SEQ_LM, else 1.
 */
export function fillPromptLearningSizes<C extends PromptLearningConfig>(
  config: C,
  context: ModelContext,
  modelConfig: Readonly<Record<string, unknown>> | undefined,
  layerSizes: LayerSizes,
): PreparedPromptConfig<C> {
  const architecture = context.architecture;
  const pick = (field: string, value: number | null, keys: readonly string[], fromArchitecture: number | undefined, fromLayers: number | undefined): number => {
    const found = value ?? firstNumber(modelConfig, keys) ?? fromArchitecture ?? fromLayers;
    if (found === undefined) throw new InvalidConfigError(`Please specify \`${field}\` in the ${config.peftType} config: the model's config does not give it`, { field });
    return found;
  };
  checkNumVirtualTokens(config);
  return {
    ...config,
    numLayers: pick('num_layers', config.numLayers, ['num_hidden_layers', 'num_layers', 'n_layer'], architecture?.numLayers, layerSizes.numLayers),
    tokenDim: pick('token_dim', config.tokenDim, ['hidden_size', 'n_embd', 'd_model'], architecture?.hiddenSize, layerSizes.tokenDim),
    numAttentionHeads: pick(
      'num_attention_heads',
      config.numAttentionHeads,
      ['num_attention_heads', 'n_head', 'num_heads', 'encoder_attention_heads'],
      architecture?.numAttentionHeads,
      layerSizes.numAttentionHeads,
    ),
    numTransformerSubmodules: config.numTransformerSubmodules ?? (config.taskType === 'SEQ_2_SEQ_LM' ? 2 : 1),
  } as PreparedPromptConfig<C>;
}

/** The model's key/value head count, for grouped-query attention. */
export function numKeyValueHeadsOf(modelConfig: Readonly<Record<string, unknown>> | undefined, architecture: ModelContext['architecture']): number | undefined {
  return firstNumber(modelConfig, ['num_key_value_heads']) ?? architecture?.numKeyValueHeads;
}
