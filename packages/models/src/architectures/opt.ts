import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigReader, type PretrainedConfig } from '../config/pretrained-config';
import { ModelLoadError } from '../errors';
import { embedding } from '../layers/embedding';
import { HFActivation, isActivationName, type ActivationName } from '../layers/activations';
import { AttentionMaskBias } from '../layers/attention-mask';
import { linear } from '../layers/linear';
import { OPTPositionIds } from '../layers/opt-position-ids';
import { ScaledDotProductAttention } from '../layers/scaled-dot-product-attention';
import { TiedLMHead } from '../layers/tied-lm-head';
import type { BuildOptions } from './build-options';
import { glue, makeInitializers } from './init';
import { causalInputs } from './inputs';
import { layerNorm as fusedLayerNorm } from '../layers/layer-norm';

/** The fields of transformers' OPTConfig that the architecture uses. */
export interface OPTConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  ffnDim: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  /** Pre-LayerNorm blocks (true, most OPT sizes) or post-LayerNorm (false, opt-350m). */
  doLayerNormBefore: boolean;
  /** opt-350m has no final LayerNorm (`_remove_final_layer_norm`, or post-LayerNorm blocks). */
  removeFinalLayerNorm: boolean;
  /** The embedding width; `project_in` / `project_out` map it to and from hidden_size when they differ. */
  wordEmbedProjDim: number;
  activationFunction: ActivationName;
  enableBias: boolean;
  layerNormElementwiseAffine: boolean;
  initStd: number;
  tieWordEmbeddings: boolean;
}

export function optConfig(raw: PretrainedConfig, source = 'config.json'): OPTConfig {
  const read = new ConfigReader(raw, source);
  const hiddenSize = read.integer('hidden_size', 768, 1);
  const numAttentionHeads = read.integer('num_attention_heads', 12, 1);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw new ModelLoadError(`${source}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`, { problem: 'invalid-config', path: source });
  }
  const activation = read.string('activation_function', 'relu');
  if (!isActivationName(activation)) throw new ModelLoadError(`${source}: activation_function "${activation}" is not supported`, { problem: 'invalid-config', path: source });
  return {
    vocabSize: read.integer('vocab_size', 50272, 1),
    hiddenSize,
    numHiddenLayers: read.integer('num_hidden_layers', 12, 1),
    ffnDim: read.integer('ffn_dim', 3072, 1),
    numAttentionHeads,
    maxPositionEmbeddings: read.integer('max_position_embeddings', 2048, 1),
    doLayerNormBefore: read.boolean('do_layer_norm_before', true),
    removeFinalLayerNorm: read.boolean('_remove_final_layer_norm', false),
    wordEmbedProjDim: read.has('word_embed_proj_dim') ? read.integer('word_embed_proj_dim', undefined, 1) : hiddenSize,
    activationFunction: activation,
    enableBias: read.boolean('enable_bias', true),
    layerNormElementwiseAffine: read.boolean('layer_norm_elementwise_affine', true),
    initStd: read.number('init_std', 0.02),
    tieWordEmbeddings: read.boolean('tie_word_embeddings', true),
  };
}

/** OPT's `embed_positions` rows: positions are offset by 2 (rows 0 and 1 are for padding conventions). */
export const OPT_POSITION_OFFSET = 2;

/**
 * Builds OPT as a functional LayersModel with transformers' module paths as layer names:
 * `model.decoder.embed_tokens`, `model.decoder.embed_positions` (`max_position_embeddings + 2`
 * rows, indexed `cumsum(mask) * mask - 1 + 2`), `model.decoder.project_in` / `project_out` (when
 * `word_embed_proj_dim` differs from `hidden_size`), `model.decoder.layers.0.self_attn.q_proj` /
 * `k_proj` / `v_proj` / `out_proj`, `…self_attn_layer_norm`, `…fc1`, `…fc2`, `…final_layer_norm`,
 * `model.decoder.final_layer_norm`, `lm_head` (tied to `embed_tokens`). `head: 'none'` gives
 * `OPTModel` (paths `decoder.…`). `q = q_proj(x) * head_dim**-0.5` is applied in the attention
 * core, after whatever a PEFT method does to `q_proj`.
 *
 * Inputs: `input_ids` `[batch, seq]` int32, `attention_mask` `[batch, seq]`.
 * Output: logits `[batch, seq, vocab]` (or the last hidden state).
 */
export function buildOPT(config: OPTConfig, options: BuildOptions & { head?: 'causal-lm' | 'none' } = {}): LayersModel {
  const head = options.head ?? 'causal-lm';
  const prefix = head === 'none' ? 'decoder' : 'model.decoder';
  const init = makeInitializers(options.init ?? 'random', config.initStd, options.seed);
  const { inputIds, attentionMask } = causalInputs();
  const headDim = config.hiddenSize / config.numAttentionHeads;
  const affine = config.layerNormElementwiseAffine;

  const dense = (name: string, units: number, useBias = config.enableBias) => linear({ name, units, useBias, kernelInitializer: init.normal(), biasInitializer: init.zeros() });
  const layerNorm = (name: string) =>
    fusedLayerNorm({ name, axis: -1, epsilon: 1e-5, center: affine, scale: affine, gammaInitializer: init.ones(), betaInitializer: init.zeros() });

  const embedTokens = embedding({ name: `${prefix}.embed_tokens`, inputDim: config.vocabSize, outputDim: config.wordEmbedProjDim, embeddingsInitializer: init.normal() });
  let tokens = embedTokens.apply(inputIds) as SymbolicTensor;
  const bias = new AttentionMaskBias({ name: glue(prefix, 'attention_mask'), causal: true }).apply([attentionMask, tokens]) as SymbolicTensor;
  const positionIds = new OPTPositionIds({ name: glue(prefix, 'position_ids'), offset: OPT_POSITION_OFFSET }).apply(bias) as SymbolicTensor;
  const positions = tfl.layers
    .embedding({
      name: `${prefix}.embed_positions`,
      inputDim: config.maxPositionEmbeddings + OPT_POSITION_OFFSET,
      outputDim: config.hiddenSize,
      embeddingsInitializer: init.normal(),
    })
    .apply(positionIds) as SymbolicTensor;
  const projected = config.wordEmbedProjDim !== config.hiddenSize;
  if (projected) tokens = dense(`${prefix}.project_in`, config.hiddenSize, false).apply(tokens) as SymbolicTensor;
  let hidden = tfl.layers.add({ name: glue(prefix, 'embeddings') }).apply([tokens, positions]) as SymbolicTensor;

  const before = config.doLayerNormBefore;
  for (let index = 0; index < config.numHiddenLayers; index++) {
    const block = `${prefix}.layers.${index}`;
    let residual = hidden;
    let x = before ? (layerNorm(`${block}.self_attn_layer_norm`).apply(hidden) as SymbolicTensor) : hidden;
    const q = dense(`${block}.self_attn.q_proj`, config.hiddenSize).apply(x) as SymbolicTensor;
    const k = dense(`${block}.self_attn.k_proj`, config.hiddenSize).apply(x) as SymbolicTensor;
    const v = dense(`${block}.self_attn.v_proj`, config.hiddenSize).apply(x) as SymbolicTensor;
    x = new ScaledDotProductAttention({ name: glue(`${block}.self_attn`, 'sdpa'), numHeads: config.numAttentionHeads, headDim, scoreDivisors: [Math.sqrt(headDim)] }).apply([
      q,
      k,
      v,
      bias,
    ]) as SymbolicTensor;
    x = dense(`${block}.self_attn.out_proj`, config.hiddenSize).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'attn_residual') }).apply([residual, x]) as SymbolicTensor;
    if (!before) hidden = layerNorm(`${block}.self_attn_layer_norm`).apply(hidden) as SymbolicTensor;

    residual = hidden;
    x = before ? (layerNorm(`${block}.final_layer_norm`).apply(hidden) as SymbolicTensor) : hidden;
    x = dense(`${block}.fc1`, config.ffnDim).apply(x) as SymbolicTensor;
    x = new HFActivation({ name: glue(block, 'activation_fn'), activation: config.activationFunction }).apply(x) as SymbolicTensor;
    x = dense(`${block}.fc2`, config.hiddenSize).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'mlp_residual') }).apply([residual, x]) as SymbolicTensor;
    if (!before) hidden = layerNorm(`${block}.final_layer_norm`).apply(hidden) as SymbolicTensor;
  }
  if (before && !config.removeFinalLayerNorm) hidden = layerNorm(`${prefix}.final_layer_norm`).apply(hidden) as SymbolicTensor;
  if (projected) hidden = dense(`${prefix}.project_out`, config.wordEmbedProjDim, false).apply(hidden) as SymbolicTensor;

  if (head === 'none') return tfl.model({ inputs: [inputIds, attentionMask], outputs: hidden, name: 'OPTModel' });
  const lmHead = config.tieWordEmbeddings
    ? new TiedLMHead({ name: 'lm_head', embedding: embedTokens })
    : linear({ name: 'lm_head', units: config.vocabSize, useBias: false, kernelInitializer: init.normal() });
  const logits = lmHead.apply(hidden) as SymbolicTensor;
  return tfl.model({ inputs: [inputIds, attentionMask], outputs: logits, name: 'OPTForCausalLM' });
}
