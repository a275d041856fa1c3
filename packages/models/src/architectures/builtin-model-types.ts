import { getArchitecture, registerArchitecture, type ArchitectureConfig } from '@peftjs/core';
import { bertConfig, buildBert, type BertConfig } from './bert';
import { bloomConfig, buildBloom, type BloomConfig } from './bloom';
import { buildGPT2, gpt2Config, type GPT2Config } from './gpt2';
import { buildLlama, llamaConfig, type LlamaConfig } from './llama';
import { getModelType, registerModelType, type ModelTypeDefinition } from './model-types';
import { buildOPT, optConfig, type OPTConfig } from './opt';
import { buildT5, t5Config, type T5Config } from './t5';

const TIED_LM_HEAD = [/^lm_head\.weight$/];

export const GPT2_ARCHITECTURE: ArchitectureConfig = {
  modelType: 'gpt2',
  roles: {
    queryKeyValue: 'c_attn',
    attentionOutput: 'attn.c_proj',
    feedForward: ['c_fc', 'mlp.c_proj'],
    feedForwardOutput: 'mlp.c_proj',
    embedding: 'wte',
    outputHead: 'lm_head',
  },
  layersPattern: 'h',
};

function llamaArchitecture(modelType: string): ArchitectureConfig {
  return {
    modelType,
    roles: {
      query: 'q_proj',
      key: 'k_proj',
      value: 'v_proj',
      attentionOutput: 'o_proj',
      feedForward: ['gate_proj', 'up_proj', 'down_proj'],
      feedForwardOutput: 'down_proj',
      embedding: 'embed_tokens',
      outputHead: 'lm_head',
    },
    layersPattern: 'layers',
  };
}

export const BERT_ARCHITECTURE: ArchitectureConfig = {
  modelType: 'bert',
  roles: {
    query: 'query',
    key: 'key',
    value: 'value',
    attentionOutput: 'attention.output.dense',
    feedForward: ['intermediate.dense', 'output.dense'],
    feedForwardOutput: 'output.dense',
    embedding: 'word_embeddings',
  },
  layersPattern: 'layer',
};

export const OPT_ARCHITECTURE: ArchitectureConfig = {
  modelType: 'opt',
  roles: {
    query: 'q_proj',
    key: 'k_proj',
    value: 'v_proj',
    attentionOutput: 'out_proj',
    feedForward: ['fc1', 'fc2'],
    feedForwardOutput: 'fc2',
    embedding: 'embed_tokens',
    outputHead: 'lm_head',
  },
  layersPattern: 'layers',
};

export const BLOOM_ARCHITECTURE: ArchitectureConfig = {
  modelType: 'bloom',
  roles: {
    queryKeyValue: 'query_key_value',
    attentionOutput: 'self_attention.dense',
    feedForward: ['dense_h_to_4h', 'dense_4h_to_h'],
    feedForwardOutput: 'dense_4h_to_h',
    embedding: 'word_embeddings',
    outputHead: 'lm_head',
  },
  layersPattern: 'h',
};

function t5Architecture(modelType: string): ArchitectureConfig {
  return {
    modelType,
    roles: {
      query: 'q',
      key: 'k',
      value: 'v',
      attentionOutput: 'o',
      feedForward: ['wi', 'wi_0', 'wi_1', 'wo'],
      feedForwardOutput: 'wo',
      embedding: 'shared',
      outputHead: 'lm_head',
    },
    layersPattern: 'block',
  };
}

export const T5_ARCHITECTURE = t5Architecture('t5');
export const MT5_ARCHITECTURE = t5Architecture('mt5');

export const GPT2_MODEL_TYPE: ModelTypeDefinition<GPT2Config> = {
  modelType: 'gpt2',
  basePrefix: 'transformer',
  parseConfig: gpt2Config,
  // Old GPT-2 checkpoints store the causal-mask buffers.
  ignoreUnexpected: [/(^|\.)attn\.(bias|masked_bias)$/],
  tasks: {
    base: { className: 'GPT2Model', build: (config, options) => buildGPT2(config, { ...options, head: 'none' }) },
    'causal-lm': {
      className: 'GPT2LMHeadModel',
      build: (config, options) => buildGPT2(config, { ...options, head: 'causal-lm' }),
      outputHeadPath: 'lm_head',
      ignoreUnexpected: (config) => (config.tieWordEmbeddings ? TIED_LM_HEAD : []),
    },
  },
  architecture: GPT2_ARCHITECTURE,
};

function llamaModelType(modelType: string, className: string): ModelTypeDefinition<LlamaConfig> {
  return {
    modelType,
    basePrefix: 'model',
    parseConfig: llamaConfig,
    ignoreUnexpected: [/rotary_emb\.inv_freq$/],
    tasks: {
      base: { className: `${className}Model`, build: (config, options) => buildLlama(config, { ...options, head: 'none' }) },
      'causal-lm': {
        className: `${className}ForCausalLM`,
        build: (config, options) => buildLlama(config, { ...options, head: 'causal-lm' }),
        outputHeadPath: 'lm_head',
        ignoreUnexpected: (config) => (config.tieWordEmbeddings ? TIED_LM_HEAD : []),
      },
    },
    architecture: llamaArchitecture(modelType),
  };
}

export const LLAMA_MODEL_TYPE = llamaModelType('llama', 'Llama');
export const MISTRAL_MODEL_TYPE = llamaModelType('mistral', 'Mistral');
export const QWEN2_MODEL_TYPE = llamaModelType('qwen2', 'Qwen2');

/** Pretraining heads and buffers a BERT checkpoint may carry that these classes do not use. */
const BERT_UNUSED = [/^cls\./, /(^|\.)embeddings\.position_ids$/];

export const BERT_MODEL_TYPE: ModelTypeDefinition<BertConfig> = {
  modelType: 'bert',
  basePrefix: 'bert',
  parseConfig: bertConfig,
  ignoreUnexpected: [/(^|\.)embeddings\.position_ids$/],
  tasks: {
    base: { className: 'BertModel', build: (config, options) => buildBert(config, { ...options, head: 'none' }), ignoreUnexpected: () => BERT_UNUSED },
    'sequence-classification': {
      className: 'BertForSequenceClassification',
      build: (config, options) => buildBert(config, { ...options, head: 'sequence-classification' }),
      newlyInitialized: [/^classifier\./, /^bert\.pooler\./],
      ignoreUnexpected: () => BERT_UNUSED,
    },
    'token-classification': {
      className: 'BertForTokenClassification',
      build: (config, options) => buildBert(config, { ...options, head: 'token-classification' }),
      newlyInitialized: [/^classifier\./],
      ignoreUnexpected: () => [...BERT_UNUSED, /(^|\.)pooler\./],
    },
  },
  architecture: BERT_ARCHITECTURE,
};

export const OPT_MODEL_TYPE: ModelTypeDefinition<OPTConfig> = {
  modelType: 'opt',
  basePrefix: 'model',
  parseConfig: optConfig,
  tasks: {
    base: { className: 'OPTModel', build: (config, options) => buildOPT(config, { ...options, head: 'none' }) },
    'causal-lm': {
      className: 'OPTForCausalLM',
      build: (config, options) => buildOPT(config, { ...options, head: 'causal-lm' }),
      outputHeadPath: 'lm_head',
      ignoreUnexpected: (config) => (config.tieWordEmbeddings ? TIED_LM_HEAD : []),
    },
  },
  architecture: OPT_ARCHITECTURE,
};

export const BLOOM_MODEL_TYPE: ModelTypeDefinition<BloomConfig> = {
  modelType: 'bloom',
  basePrefix: 'transformer',
  parseConfig: bloomConfig,
  tasks: {
    base: { className: 'BloomModel', build: (config, options) => buildBloom(config, { ...options, head: 'none' }) },
    'causal-lm': {
      className: 'BloomForCausalLM',
      build: (config, options) => buildBloom(config, { ...options, head: 'causal-lm' }),
      outputHeadPath: 'lm_head',
      ignoreUnexpected: (config) => (config.tieWordEmbeddings ? TIED_LM_HEAD : []),
    },
  },
  architecture: BLOOM_ARCHITECTURE,
};

/** Keys a T5 checkpoint may hold for tied or legacy modules that have no parameter of their own here. */
const T5_UNUSED = [/^(encoder|decoder)\.embed_tokens\.weight$/, /(^|\.)EncDecAttention\.relative_attention_bias\.weight$/];

function t5ModelType(modelType: 't5' | 'mt5', className: 'T5' | 'MT5'): ModelTypeDefinition<T5Config> {
  return {
    modelType,
    basePrefix: '',
    parseConfig: t5Config,
    ignoreUnexpected: T5_UNUSED,
    tasks: {
      base: { className: `${className}Model`, build: (config, options) => buildT5(config, { ...options, head: 'none' }), ignoreUnexpected: () => [/^lm_head\.weight$/] },
      'seq2seq-lm': {
        className: `${className}ForConditionalGeneration`,
        build: (config, options) => buildT5(config, { ...options, head: 'seq2seq-lm' }),
        outputHeadPath: 'lm_head',
        ignoreUnexpected: (config) => (config.tieWordEmbeddings ? TIED_LM_HEAD : []),
      },
    },
    architecture: modelType === 't5' ? T5_ARCHITECTURE : MT5_ARCHITECTURE,
  };
}

export const T5_MODEL_TYPE = t5ModelType('t5', 'T5');
export const MT5_MODEL_TYPE = t5ModelType('mt5', 'MT5');

export const BUILTIN_MODEL_TYPES: readonly ModelTypeDefinition[] = [
  GPT2_MODEL_TYPE,
  LLAMA_MODEL_TYPE,
  MISTRAL_MODEL_TYPE,
  QWEN2_MODEL_TYPE,
  BERT_MODEL_TYPE,
  OPT_MODEL_TYPE,
  BLOOM_MODEL_TYPE,
  T5_MODEL_TYPE,
  MT5_MODEL_TYPE,
];

let registered = false;

/**
 * Registers the built-in model types here and their architectures (layer roles, layers pattern)
 * in @peftjs/core; each method package owns its default-target table. Idempotent; the loaders
 * call it, and it is exported for code that only needs the architectures. An architecture a user already registered under
 * the same model type is kept.
 */
export function registerBuiltinModelTypes(): void {
  if (registered) return;
  registered = true;
  for (const definition of BUILTIN_MODEL_TYPES) {
    if (!getModelType(definition.modelType)) registerModelType(definition);
    if (!getArchitecture(definition.modelType)) registerArchitecture(definition.architecture);
  }
}
