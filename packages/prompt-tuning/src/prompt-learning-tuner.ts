import {
  AdapterStateError,
  getModelInfo,
  InvalidConfigError,
  namedLayers,
  type ConfigFieldInfo,
  type LayerContext,
  type ModelContext,
  type TunerLayer,
  type TunerV1,
} from '@peftjs/core';
import type { layers } from '@tensorflow/tfjs-layers';
import { PrefixAttention, type PrefixAttentionOptions } from './prefix-attention-layer';
import { PrefixPositionIds } from './prefix-position-ids-layer';
import { PromptAttentionMask } from './prompt-attention-mask-layer';
import { PromptEmbedding, type PromptEmbeddingOptions } from './prompt-embedding-layer';
import { fillPromptLearningSizes, numKeyValueHeadsOf, type LayerSizes, type PreparedPromptConfig, type PromptLearningConfig } from './prompt-learning-config';
import type { PromptLayerOptions } from './prompt-learning-layer';
import type { PromptSource } from './prompt-source';
import { promptGenerationHooks } from './prompt-generation';
import { promptStateDictFormat } from './prompt-state-dict';
import { findPromptModelLayers, inputPromptTargets, outputDim, prefixTargets, unwrapped, type PromptModelLayers, type PromptTargetRole } from './prompt-targets';
import { PromptTokenTypes } from './prompt-token-types-layer';

/** How one prompt method differs from the others. */
export interface PromptMethod<Config extends PromptLearningConfig> {
  peftType: string;
  weightPrefix: string;
  /** 'input': virtual tokens prepended to the input embeddings; 'prefix': key/value prefixes in every attention layer. */
  kind: 'input' | 'prefix';
  parseConfig(raw: unknown): Config;
  /** The config's fields described as data (the schema's `fields`). */
  configFields?: readonly ConfigFieldInfo[];
  serializeConfig(config: Config): Record<string, unknown>;
  /** Method fields filled from the model after the shared sizes (encoder_hidden_size ← token_dim). */
  prepareMethodConfig?(config: PreparedPromptConfig<Config>, modelConfig: Readonly<Record<string, unknown>> | undefined, context: ModelContext): PreparedPromptConfig<Config>;
  /** The adapter options of the word-embedding layer ('input' methods). */
  embeddingOptions?(config: PreparedPromptConfig<Config>, context: LayerContext<Config>, baseLayer: layers.Layer): PromptEmbeddingOptions;
  /** The encoder of the prefix ('prefix' methods). */
  prefixEncoder?(config: PreparedPromptConfig<Config>): { prefixProjection: boolean; encoderHiddenSize: number };
  /** The word-embedding layer class ('input' methods; default PromptEmbedding). */
  embeddingLayer?: new (args: {
    baseLayer: layers.Layer;
    peftType: string;
  }) => PromptEmbedding;
}

/** PEFT 0.11.1 PeftModelForSequenceClassification's `classifier_module_names`. */
export const SEQ_CLS_MODULES_TO_SAVE = ['classifier', 'score'] as const;

const PROMPT_LAYER_CLASSES = [PromptEmbedding, PromptAttentionMask, PromptTokenTypes, PrefixPositionIds, PrefixAttention];

function layerSizes(found: PromptModelLayers): LayerSizes {
  const core = found.attention[0] ? (unwrapped(found.attention[0].layer) as unknown as { numHeads?: number; numKeyValueHeads?: number }) : undefined;
  return {
    numLayers: found.attention.length > 0 ? found.attention.length : undefined,
    tokenDim: found.wordEmbedding ? outputDim(found.wordEmbedding.layer) : undefined,
    numAttentionHeads: core?.numHeads,
    numKeyValueHeads: core?.numKeyValueHeads,
  };
}

function prepared<Config extends PromptLearningConfig>(config: Config): PreparedPromptConfig<Config> {
  if (config.numLayers === null || config.tokenDim === null || config.numAttentionHeads === null || config.numTransformerSubmodules === null || config.numVirtualTokens === null) {
    throw new InvalidConfigError(`${config.peftType} config was not prepared for a model`);
  }
  return config as PreparedPromptConfig<Config>;
}

/**
 * A prompt-learning tuner. It needs no `target_modules`: it wraps the word embedding (prompt
 * tuning, P-tuning) or every attention core and the position ids (prefix tuning), plus the
 * attention-mask layers, and it saves PEFT's single `prompt_embeddings` tensor.
 */
export function createPromptLearningTuner<Config extends PromptLearningConfig>(method: PromptMethod<Config>): TunerV1<Config> {
  /** Per prepared config (one injection): each selected path's role, and the prefix encoder shared by the attention layers. */
  const roles = new WeakMap<object, Map<string, PromptTargetRole>>();
  const sharedSources = new WeakMap<object, Map<string, PromptSource>>();

  const roleOf = (context: LayerContext<Config>): PromptTargetRole => {
    const role = roles.get(context.config)?.get(context.path);
    if (!role) throw new AdapterStateError(`${method.peftType}: layer "${context.path}" was not selected for this adapter`);
    return role;
  };

  const addTo = (layer: TunerLayer, role: PromptTargetRole, context: LayerContext<Config>): void => {
    const config = prepared(context.config);
    const base: PromptLayerOptions = { numVirtualTokens: config.numVirtualTokens };
    if (role.kind === 'embedding') {
      layer.addAdapter(context.adapterName, method.embeddingOptions!(config, context, layer.baseLayer));
      return;
    }
    if (role.kind !== 'attention') {
      layer.addAdapter(context.adapterName, base);
      return;
    }
    let shared = sharedSources.get(context.config);
    if (!shared) sharedSources.set(context.config, (shared = new Map()));
    const source = shared.get(context.adapterName);
    const options: PrefixAttentionOptions = {
      ...base,
      layerIndex: role.index,
      numLayers: config.numLayers,
      numHeads: config.numAttentionHeads,
      tokenDim: config.tokenDim,
      owner: source === undefined,
      methodPrefix: method.weightPrefix,
      ...method.prefixEncoder!(config),
    };
    const attention = layer as PrefixAttention;
    attention.addAdapter(context.adapterName, options);
    if (source) attention.shareSource(context.adapterName, source);
    else shared.set(context.adapterName, attention.promptSource(context.adapterName));
  };

  const wrap = (baseLayer: layers.Layer, role: PromptTargetRole): TunerLayer => {
    const args = { baseLayer, peftType: method.peftType };
    switch (role.kind) {
      case 'embedding':
        return new (method.embeddingLayer ?? PromptEmbedding)(args);
      case 'mask':
        return new PromptAttentionMask(args);
      case 'tokenTypes':
        return new PromptTokenTypes(args);
      case 'positions':
        return new PrefixPositionIds(args);
      case 'attention':
        return new PrefixAttention(args);
    }
  };

  return {
    specificationVersion: 'v1',
    peftType: method.peftType,
    weightPrefix: method.weightPrefix,
    packageName: '@peftjs/prompt-tuning',
    layers: PROMPT_LAYER_CLASSES,
    supportedLayerClasses: method.kind === 'input' ? ['Embedding', 'InputsEmbeds', 'AttentionMaskBias'] : ['ScaledDotProductAttention', 'AttentionMaskBias', 'PositionIds'],
    canAdapt: () => true,
    ...(method.configFields ? { configFields: method.configFields } : {}),
    parseConfig: (raw) => method.parseConfig(raw),
    serializeConfig: (config) => method.serializeConfig(config),
    stateDictFormat: promptStateDictFormat,
    generation: promptGenerationHooks,

    prepareConfig(config, context) {
      const modelConfig = getModelInfo(context.model).config;
      const found = findPromptModelLayers(context, namedLayers(context.model));
      let filled = fillPromptLearningSizes(config, context, modelConfig, layerSizes(found));
      if (method.kind === 'prefix') {
        // Grouped-query attention (PEFT #1901, after 0.11.1, which fails on such models): the prefix holds the key/value heads.
        const kvHeads = numKeyValueHeadsOf(modelConfig, context.architecture) ?? layerSizes(found).numKeyValueHeads;
        if (config.numAttentionHeads === null && kvHeads !== undefined && kvHeads !== filled.numAttentionHeads) {
          filled = { ...filled, tokenDim: (filled.tokenDim / filled.numAttentionHeads) * kvHeads, numAttentionHeads: kvHeads };
        }
      }
      // Encoder-decoders (SEQ_2_SEQ_LM, num_transformer_submodules 2): prompt tuning and P-tuning, on the encoder input, as PEFT 0.11.1.
      const seq2seqInput = method.kind === 'input' && found.encoderInputsEmbeds !== undefined;
      if (filled.numTransformerSubmodules !== 1 && !seq2seqInput) {
        throw new InvalidConfigError(
          method.kind === 'input'
            ? `num_transformer_submodules ${filled.numTransformerSubmodules} is for encoder-decoder models (SEQ_2_SEQ_LM), and this model has no encoder input embeddings (InputsEmbeds, as @peftjs/models builds T5 / mT5)`
            : `num_transformer_submodules ${filled.numTransformerSubmodules} is for encoder-decoder models (SEQ_2_SEQ_LM); ${method.peftType} supports decoder and encoder models (one submodule)`,
          { field: 'num_transformer_submodules' },
        );
      }
      // PEFT's PeftModelForSequenceClassification trains and saves the classification head with the prompt.
      if (filled.taskType === 'SEQ_CLS') filled = { ...filled, modulesToSave: [...SEQ_CLS_MODULES_TO_SAVE] };
      return method.prepareMethodConfig ? method.prepareMethodConfig(filled, modelConfig, context) : filled;
    },

    selectTargets(config, context, named) {
      const sizes = prepared(config);
      const found = findPromptModelLayers(context, named);
      const selected = method.kind === 'input' ? inputPromptTargets(method.peftType, found, sizes.tokenDim) : prefixTargets(method.peftType, found, sizes);
      roles.set(config, selected);
      return [...selected.keys()];
    },

    createLayer(baseLayer, context) {
      const role = roleOf(context);
      const layer = wrap(baseLayer, role);
      addTo(layer, role, context);
      return layer;
    },

    updateLayer(layer, context) {
      addTo(layer, roleOf(context), context);
    },
  };
}
