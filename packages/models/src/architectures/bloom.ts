import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigReader, type PretrainedConfig } from '../config/pretrained-config';
import { ModelLoadError } from '../errors';
import { embedding } from '../layers/embedding';
import { HFActivation } from '../layers/activations';
import { AttentionMaskBias } from '../layers/attention-mask';
import { linear } from '../layers/linear';
import { ScaledDotProductAttention } from '../layers/scaled-dot-product-attention';
import { TiedLMHead } from '../layers/tied-lm-head';
import type { BuildOptions } from './build-options';
import { glue, join, makeInitializers } from './init';
import { causalInputs } from './inputs';
import { layerNorm as fusedLayerNorm } from '../layers/layer-norm';

/** The fields of transformers' BloomConfig that the architecture uses. */
export interface BloomConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  layerNormEpsilon: number;
  initializerRange: number;
  /** The residual is taken after the LayerNorm instead of before it. */
  applyResidualConnectionPostLayernorm: boolean;
  tieWordEmbeddings: boolean;
}

export function bloomConfig(raw: PretrainedConfig, source = 'config.json'): BloomConfig {
  const read = new ConfigReader(raw, source);
  // transformers' BloomConfig: `n_embed` is the legacy name of hidden_size; n_layer / n_head are attribute-mapped.
  const hiddenKey = read.firstPresent('hidden_size', 'n_embed') ?? 'hidden_size';
  const layersKey = read.firstPresent('n_layer', 'num_hidden_layers') ?? 'n_layer';
  const headsKey = read.firstPresent('n_head', 'num_attention_heads') ?? 'n_head';
  const hiddenSize = read.integer(hiddenKey, 64, 1);
  const numAttentionHeads = read.integer(headsKey, 8, 1);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw new ModelLoadError(`${source}: hidden_size ${hiddenSize} is not divisible by n_head ${numAttentionHeads}`, { problem: 'invalid-config', path: source });
  }
  return {
    vocabSize: read.integer('vocab_size', 250880, 1),
    hiddenSize,
    numHiddenLayers: read.integer(layersKey, 2, 1),
    numAttentionHeads,
    layerNormEpsilon: read.number('layer_norm_epsilon', 1e-5),
    initializerRange: read.number('initializer_range', 0.02),
    applyResidualConnectionPostLayernorm: read.boolean('apply_residual_connection_post_layernorm', false),
    tieWordEmbeddings: read.boolean('tie_word_embeddings', true),
  };
}

/**
 * transformers' `build_alibi_tensor` slopes, in float32: `2^(-8(h+1)/n)` for a power-of-two
 * head count n, else those of the largest power of two below it followed by every other slope of
 * the next power of two.
 */
export function alibiSlopes(numHeads: number): number[] {
  const closest = 2 ** Math.floor(Math.log2(numHeads));
  const base = Math.fround(2 ** -(2 ** -(Math.log2(closest) - 3)));
  const slopes = Array.from({ length: closest }, (_, index) => Math.fround(base ** (index + 1)));
  if (closest !== numHeads) {
    const extraBase = Math.fround(2 ** -(2 ** -(Math.log2(2 * closest) - 3)));
    const remaining = Math.min(closest, numHeads - closest);
    for (let power = 1; power < 1 + 2 * remaining; power += 2) slopes.push(Math.fround(extraBase ** power));
  }
  return slopes;
}

/**
 * Builds BLOOM as a functional LayersModel with transformers' module paths as layer names:
 * `transformer.word_embeddings`, `transformer.word_embeddings_layernorm`,
 * `transformer.h.0.input_layernorm`, `transformer.h.0.self_attention.query_key_value` (one
 * projection, q/k/v interleaved per head), `…self_attention.dense`, `…post_attention_layernorm`,
 * `…mlp.dense_h_to_4h`, `…mlp.dense_4h_to_h`, `transformer.ln_f`, `lm_head` (tied to
 * `word_embeddings`). No position embeddings: ALiBi in the attention core. `head: 'none'` gives
 * `BloomModel` (paths without the `transformer.` prefix).
 *
 * Inputs: `input_ids` `[batch, seq]` int32, `attention_mask` `[batch, seq]`.
 * Output: logits `[batch, seq, vocab]` (or the last hidden state).
 */
export function buildBloom(config: BloomConfig, options: BuildOptions & { head?: 'causal-lm' | 'none' } = {}): LayersModel {
  const head = options.head ?? 'causal-lm';
  const prefix = head === 'none' ? '' : 'transformer';
  const init = makeInitializers(options.init ?? 'random', config.initializerRange, options.seed);
  const { inputIds, attentionMask } = causalInputs();
  const headDim = config.hiddenSize / config.numAttentionHeads;
  const slopes = alibiSlopes(config.numAttentionHeads);

  const dense = (name: string, units: number) => linear({ name, units, useBias: true, kernelInitializer: init.normal(), biasInitializer: init.zeros() });
  const layerNorm = (name: string) => fusedLayerNorm({ name, axis: -1, epsilon: config.layerNormEpsilon, gammaInitializer: init.ones(), betaInitializer: init.zeros() });

  const wordEmbeddings = embedding({ name: join(prefix, 'word_embeddings'), inputDim: config.vocabSize, outputDim: config.hiddenSize, embeddingsInitializer: init.normal() });
  let hidden = wordEmbeddings.apply(inputIds) as SymbolicTensor;
  hidden = layerNorm(join(prefix, 'word_embeddings_layernorm')).apply(hidden) as SymbolicTensor;
  const bias = new AttentionMaskBias({ name: glue(prefix, 'attention_mask'), causal: true }).apply([attentionMask, hidden]) as SymbolicTensor;

  for (let index = 0; index < config.numHiddenLayers; index++) {
    const block = join(prefix, `h.${index}`);
    let x = layerNorm(`${block}.input_layernorm`).apply(hidden) as SymbolicTensor;
    let residual = config.applyResidualConnectionPostLayernorm ? x : hidden;
    x = dense(`${block}.self_attention.query_key_value`, 3 * config.hiddenSize).apply(x) as SymbolicTensor;
    x = new ScaledDotProductAttention({
      name: glue(`${block}.self_attention`, 'sdpa'),
      numHeads: config.numAttentionHeads,
      headDim,
      scoreDivisors: [Math.sqrt(headDim)],
      fusedQkv: true,
      fusedLayout: 'per-head',
      alibiSlopes: slopes,
    }).apply([x, bias]) as SymbolicTensor;
    x = dense(`${block}.self_attention.dense`, config.hiddenSize).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'attn_residual') }).apply([x, residual]) as SymbolicTensor;
    x = layerNorm(`${block}.post_attention_layernorm`).apply(hidden) as SymbolicTensor;
    residual = config.applyResidualConnectionPostLayernorm ? x : hidden;
    x = dense(`${block}.mlp.dense_h_to_4h`, 4 * config.hiddenSize).apply(x) as SymbolicTensor;
    // bloom_gelu_forward: x * 0.5 * (1 + tanh(0.79788456 * x * (1 + 0.044715 x²))), the tanh approximation.
    x = new HFActivation({ name: glue(`${block}.mlp`, 'gelu_impl'), activation: 'gelu_fast' }).apply(x) as SymbolicTensor;
    x = dense(`${block}.mlp.dense_4h_to_h`, config.hiddenSize).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'mlp_residual') }).apply([x, residual]) as SymbolicTensor;
  }
  hidden = layerNorm(join(prefix, 'ln_f')).apply(hidden) as SymbolicTensor;

  if (head === 'none') return tfl.model({ inputs: [inputIds, attentionMask], outputs: hidden, name: 'BloomModel' });
  const lmHead = config.tieWordEmbeddings
    ? new TiedLMHead({ name: 'lm_head', embedding: wordEmbeddings })
    : linear({ name: 'lm_head', units: config.vocabSize, useBias: false, kernelInitializer: init.normal() });
  const logits = lmHead.apply(hidden) as SymbolicTensor;
  return tfl.model({ inputs: [inputIds, attentionMask], outputs: logits, name: 'BloomForCausalLM' });
}
