import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigReader, type PretrainedConfig } from '../config/pretrained-config';
import { ModelLoadError } from '../errors';
import { embedding } from '../layers/embedding';
import { GatedActivation, isActivationName, type ActivationName } from '../layers/activations';
import { AttentionMaskBias } from '../layers/attention-mask';
import { PositionIds } from '../layers/position-ids';
import { LlamaRMSNorm } from '../layers/rms-norm';
import { RotaryEmbedding, type RopeScaling } from '../layers/rotary-embedding';
import { linear } from '../layers/linear';
import { ScaledDotProductAttention } from '../layers/scaled-dot-product-attention';
import { TiedLMHead } from '../layers/tied-lm-head';
import type { BuildOptions } from './build-options';
import { glue, join, makeInitializers } from './init';
import { causalInputs } from './inputs';

/** transformers' LlamaConfig, with the Mistral and Qwen2 differences as options. */
export interface LlamaConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  hiddenAct: ActivationName;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieWordEmbeddings: boolean;
  initializerRange: number;
  /** Bias on q/k/v_proj (Llama `attention_bias`, always on for Qwen2). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama `attention_bias`). */
  oBias: boolean;
  /** Bias on gate/up/down_proj (Llama `mlp_bias`). */
  mlpBias: boolean;
  /** Mistral's sliding attention window (Qwen2 with `use_sliding_window`), else null. */
  slidingWindow: number | null;
}

function ropeScaling(read: ConfigReader, source: string): RopeScaling | null {
  const raw = read.object('rope_scaling');
  if (!raw) return null;
  const type = (raw.rope_type ?? raw.type) as string | undefined;
  const number = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : undefined);
  if (type === 'default') return { ropeType: 'default' };
  if (type === 'linear') return { ropeType: 'linear', factor: number('factor') };
  if (type === 'llama3') {
    return {
      ropeType: 'llama3',
      factor: number('factor'),
      lowFreqFactor: number('low_freq_factor'),
      highFreqFactor: number('high_freq_factor'),
      originalMaxPositionEmbeddings: number('original_max_position_embeddings'),
    };
  }
  throw new ModelLoadError(`${source}: rope_scaling type ${JSON.stringify(type)} is not supported (supported: default, linear, llama3)`, {
    problem: 'invalid-config',
    path: source,
  });
}

const DEFAULTS: Record<string, { vocab: number; hidden: number; intermediate: number; layers: number; heads: number; kvHeads?: number; maxPositions: number }> = {
  llama: { vocab: 32000, hidden: 4096, intermediate: 11008, layers: 32, heads: 32, maxPositions: 2048 },
  mistral: { vocab: 32000, hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, maxPositions: 4096 * 32 },
  qwen2: { vocab: 151936, hidden: 4096, intermediate: 22016, layers: 32, heads: 32, maxPositions: 32768 },
};

export function llamaConfig(raw: PretrainedConfig, source = 'config.json'): LlamaConfig {
  const read = new ConfigReader(raw, source);
  const modelType = raw.model_type;
  const defaults = DEFAULTS[modelType] ?? DEFAULTS.llama!;
  const hiddenSize = read.integer('hidden_size', defaults.hidden, 1);
  const numAttentionHeads = read.integer('num_attention_heads', defaults.heads, 1);
  const numKeyValueHeads = read.integer('num_key_value_heads', defaults.kvHeads ?? numAttentionHeads, 1);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new ModelLoadError(`${source}: num_attention_heads ${numAttentionHeads} is not a multiple of num_key_value_heads ${numKeyValueHeads}`, {
      problem: 'invalid-config',
      path: source,
    });
  }
  if (!read.has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
    throw new ModelLoadError(`${source}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`, { problem: 'invalid-config', path: source });
  }
  const hiddenAct = read.string('hidden_act', 'silu');
  if (!isActivationName(hiddenAct)) throw new ModelLoadError(`${source}: hidden_act "${hiddenAct}" is not supported`, { problem: 'invalid-config', path: source });
  const attentionBias = read.boolean('attention_bias', false);
  let slidingWindow: number | null = null;
  if (modelType === 'mistral' && read.has('sliding_window')) slidingWindow = read.integer('sliding_window', undefined, 1);
  if (modelType === 'qwen2' && read.boolean('use_sliding_window', false) && read.has('sliding_window')) slidingWindow = read.integer('sliding_window', undefined, 1);
  return {
    modelType,
    vocabSize: read.integer('vocab_size', defaults.vocab, 1),
    hiddenSize,
    intermediateSize: read.integer('intermediate_size', defaults.intermediate, 1),
    numHiddenLayers: read.integer('num_hidden_layers', defaults.layers, 1),
    numAttentionHeads,
    numKeyValueHeads,
    headDim: read.has('head_dim') ? read.integer('head_dim', undefined, 1) : hiddenSize / numAttentionHeads,
    hiddenAct,
    rmsNormEps: read.number('rms_norm_eps', 1e-6),
    ropeTheta: read.number('rope_theta', 10000),
    ropeScaling: ropeScaling(read, source),
    tieWordEmbeddings: read.boolean('tie_word_embeddings', false),
    initializerRange: read.number('initializer_range', 0.02),
    qkvBias: modelType === 'qwen2' ? true : attentionBias,
    oBias: modelType === 'qwen2' ? false : attentionBias,
    mlpBias: read.boolean('mlp_bias', false),
    slidingWindow,
  };
}

/**
 * Builds a Llama-family decoder (Llama, Mistral, Qwen2) as a functional LayersModel. Layer names
 * are transformers' module paths: `model.embed_tokens`, `model.layers.0.self_attn.q_proj` …
 * `o_proj`, `model.layers.0.mlp.gate_proj` / `up_proj` / `down_proj`, `model.norm`, `lm_head`.
 * `head: 'none'` gives `LlamaModel` (paths without the `model.` prefix).
 *
 * Inputs: `input_ids` `[batch, seq]` int32, `attention_mask` `[batch, seq]`.
 * Output: logits `[batch, seq, vocab]` (or the last hidden state).
 */
export function buildLlama(config: LlamaConfig, options: BuildOptions & { head?: 'causal-lm' | 'none' } = {}): LayersModel {
  const head = options.head ?? 'causal-lm';
  const prefix = head === 'none' ? '' : 'model';
  const init = makeInitializers(options.init ?? 'random', config.initializerRange, options.seed);
  const { inputIds, attentionMask } = causalInputs();
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;

  const dense = (name: string, units: number, useBias: boolean) => linear({ name, units, useBias, kernelInitializer: init.normal(), biasInitializer: init.zeros() });
  const rmsNorm = (name: string) => new LlamaRMSNorm({ name, epsilon: config.rmsNormEps, initializer: init.onesName });

  const embedTokens = embedding({ name: join(prefix, 'embed_tokens'), inputDim: config.vocabSize, outputDim: config.hiddenSize, embeddingsInitializer: init.normal() });
  let hidden = embedTokens.apply(inputIds) as SymbolicTensor;
  const positionIds = new PositionIds({ name: glue(prefix, 'position_ids') }).apply(hidden) as SymbolicTensor;
  const [cos, sin] = new RotaryEmbedding({ name: glue(prefix, 'rotary_emb'), dim: headDim, base: config.ropeTheta, scaling: config.ropeScaling }).apply(
    positionIds,
  ) as SymbolicTensor[];
  const bias = new AttentionMaskBias({ name: glue(prefix, 'attention_mask'), causal: true, slidingWindow: config.slidingWindow }).apply([attentionMask, hidden]) as SymbolicTensor;

  for (let index = 0; index < config.numHiddenLayers; index++) {
    const block = join(prefix, `layers.${index}`);
    let x = rmsNorm(`${block}.input_layernorm`).apply(hidden) as SymbolicTensor;
    const q = dense(`${block}.self_attn.q_proj`, heads * headDim, config.qkvBias).apply(x) as SymbolicTensor;
    const k = dense(`${block}.self_attn.k_proj`, kvHeads * headDim, config.qkvBias).apply(x) as SymbolicTensor;
    const v = dense(`${block}.self_attn.v_proj`, kvHeads * headDim, config.qkvBias).apply(x) as SymbolicTensor;
    x = new ScaledDotProductAttention({
      name: glue(`${block}.self_attn`, 'sdpa'),
      numHeads: heads,
      numKeyValueHeads: kvHeads,
      headDim,
      scoreDivisors: [Math.sqrt(headDim)],
      rotary: true,
    }).apply([q, k, v, bias, cos!, sin!]) as SymbolicTensor;
    x = dense(`${block}.self_attn.o_proj`, config.hiddenSize, config.oBias).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'attn_residual') }).apply([hidden, x]) as SymbolicTensor;
    x = rmsNorm(`${block}.post_attention_layernorm`).apply(hidden) as SymbolicTensor;
    const gate = dense(`${block}.mlp.gate_proj`, config.intermediateSize, config.mlpBias).apply(x) as SymbolicTensor;
    const up = dense(`${block}.mlp.up_proj`, config.intermediateSize, config.mlpBias).apply(x) as SymbolicTensor;
    x = new GatedActivation({ name: glue(`${block}.mlp`, 'act_fn'), activation: config.hiddenAct }).apply([gate, up]) as SymbolicTensor;
    x = dense(`${block}.mlp.down_proj`, config.hiddenSize, config.mlpBias).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'mlp_residual') }).apply([hidden, x]) as SymbolicTensor;
  }
  hidden = rmsNorm(join(prefix, 'norm')).apply(hidden) as SymbolicTensor;

  const className = { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2' }[config.modelType] ?? 'Llama';
  if (head === 'none') return tfl.model({ inputs: [inputIds, attentionMask], outputs: hidden, name: `${className}Model` });
  const lmHead = config.tieWordEmbeddings
    ? new TiedLMHead({ name: 'lm_head', embedding: embedTokens })
    : linear({ name: 'lm_head', units: config.vocabSize, useBias: false, kernelInitializer: init.normal() });
  const logits = lmHead.apply(hidden) as SymbolicTensor;
  return tfl.model({ inputs: [inputIds, attentionMask], outputs: logits, name: `${className}ForCausalLM` });
}
