import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigReader, type PretrainedConfig } from '../config/pretrained-config';
import { ModelLoadError } from '../errors';
import { GatedActivation, HFActivation, isActivationName, type ActivationName } from '../layers/activations';
import { AttentionMaskBias } from '../layers/attention-mask';
import { embedding } from '../layers/embedding';
import { linear } from '../layers/linear';
import { ScaledDotProductAttention } from '../layers/scaled-dot-product-attention';
import { AttentionBiasSum, ConstantScale, CrossAttention, InputsEmbeds, T5LayerNorm, T5RelativePositionBias } from '../layers/t5-layers';
import { TiedLMHead } from '../layers/tied-lm-head';
import type { BuildOptions } from './build-options';
import { glue, makeInitializers } from './init';
import { seq2seqInputs } from './inputs';

/** The fields of transformers' T5Config / MT5Config that the architecture uses. */
export interface T5Config {
  modelType: string;
  vocabSize: number;
  dModel: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  layerNormEpsilon: number;
  /** The FFN activation (`dense_act_fn`): `relu` for T5, `gelu_new` for gated-gelu (mT5, T5 v1.1). */
  denseActFn: ActivationName;
  /** `wo(act(wi_0(x)) * wi_1(x))` instead of `wo(act(wi(x)))`. */
  isGatedAct: boolean;
  /** A tied `lm_head` (T5) reads `shared` and rescales the decoder output by `d_model**-0.5` first. */
  tieWordEmbeddings: boolean;
  initializerFactor: number;
  decoderStartTokenId: number;
  padTokenId: number;
}

const DEFAULTS: Record<string, { vocab: number; dFf: number; layers: number; heads: number; feedForwardProj: string; tie: boolean }> = {
  t5: { vocab: 32128, dFf: 2048, layers: 6, heads: 8, feedForwardProj: 'relu', tie: true },
  mt5: { vocab: 250112, dFf: 1024, layers: 8, heads: 6, feedForwardProj: 'gated-gelu', tie: false },
};

export function t5Config(raw: PretrainedConfig, source = 'config.json'): T5Config {
  const read = new ConfigReader(raw, source);
  const defaults = DEFAULTS[raw.model_type] ?? DEFAULTS.t5!;
  const feedForwardProj = read.string('feed_forward_proj', defaults.feedForwardProj);
  // transformers' T5Config: "[gated-]{ACT_FN}", and "gated-gelu" means gelu_new.
  const parts = feedForwardProj.split('-');
  const isGatedAct = parts[0] === 'gated';
  if ((parts.length > 1 && !isGatedAct) || parts.length > 2) {
    throw new ModelLoadError(`${source}: feed_forward_proj "${feedForwardProj}" is not a valid activation; use "gated-{ACT_FN}" or "{ACT_FN}", e.g. "gated-gelu" or "relu"`, {
      problem: 'invalid-config',
      path: source,
    });
  }
  const activation = feedForwardProj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1]!;
  if (!isActivationName(activation))
    throw new ModelLoadError(`${source}: feed_forward_proj activation "${activation}" is not supported`, { problem: 'invalid-config', path: source });
  const numLayers = read.integer('num_layers', defaults.layers, 1);
  const padTokenId = read.integer('pad_token_id', 0);
  return {
    modelType: raw.model_type,
    vocabSize: read.integer('vocab_size', defaults.vocab, 1),
    dModel: read.integer('d_model', 512, 1),
    dKv: read.integer('d_kv', 64, 1),
    dFf: read.integer('d_ff', defaults.dFf, 1),
    numLayers,
    numDecoderLayers: read.has('num_decoder_layers') ? read.integer('num_decoder_layers', undefined, 1) : numLayers,
    numHeads: read.integer('num_heads', defaults.heads, 1),
    relativeAttentionNumBuckets: read.integer('relative_attention_num_buckets', 32, 1),
    relativeAttentionMaxDistance: read.integer('relative_attention_max_distance', 128, 1),
    layerNormEpsilon: read.number('layer_norm_epsilon', 1e-6),
    denseActFn: activation,
    isGatedAct,
    tieWordEmbeddings: read.boolean('tie_word_embeddings', defaults.tie),
    initializerFactor: read.number('initializer_factor', 1),
    decoderStartTokenId: read.has('decoder_start_token_id') ? read.integer('decoder_start_token_id') : padTokenId,
    padTokenId,
  };
}

export type T5Head = 'seq2seq-lm' | 'none';

/**
 * Builds T5 / mT5 as one functional LayersModel over encoder and decoder, with transformers'
 * module paths as layer names: `shared` (the token embedding of both stacks),
 * `encoder.block.0.layer.0.layer_norm`, `encoder.block.0.layer.0.SelfAttention.q` / `k` / `v` /
 * `o`, `encoder.block.0.layer.0.SelfAttention.relative_attention_bias` (block 0 only, reused by
 * the later blocks), `encoder.block.0.layer.1.DenseReluDense.wi` (or `wi_0` / `wi_1`) / `wo`,
 * `encoder.final_layer_norm`, and in the decoder `decoder.block.0.layer.1.EncDecAttention.q` …
 * (cross-attention over the encoder output) with the FFN at `layer.2`, `decoder.final_layer_norm`,
 * `lm_head`. Attention has no `1/sqrt(d_kv)` scaling and no Linear has a bias. A tied head
 * multiplies the decoder output by `d_model**-0.5` and reads `shared`; an untied one (mT5) does
 * neither. `head: 'none'` gives `T5Model` / `MT5Model` (the decoder's last hidden state).
 *
 * Inputs: `input_ids` `[batch, seq]` int32, `attention_mask` `[batch, seq]` (the encoder's
 * padding mask, also used by cross-attention), `decoder_input_ids` `[batch, dec_len]` int32
 * (causal; transformers' default all-ones `decoder_attention_mask`).
 * Output: logits `[batch, dec_len, vocab]`.
 */
export function buildT5(config: T5Config, options: BuildOptions & { head?: T5Head } = {}): LayersModel {
  const head = options.head ?? 'seq2seq-lm';
  const init = makeInitializers(options.init ?? 'random', config.initializerFactor * config.dModel ** -0.5, options.seed);
  const { inputIds, attentionMask, decoderInputIds } = seq2seqInputs();
  const inner = config.numHeads * config.dKv;
  const random = (options.init ?? 'random') === 'random';
  let seed = options.seed === undefined ? undefined : options.seed + 100_003;

  const dense = (name: string, units: number) => linear({ name, units, useBias: false, kernelInitializer: init.normal() });
  const norm = (name: string) => new T5LayerNorm({ name, epsilon: config.layerNormEpsilon, initializer: init.onesName });
  const positionBias = (stack: 'encoder' | 'decoder') =>
    new T5RelativePositionBias({
      name: `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias`,
      numHeads: config.numHeads,
      numBuckets: config.relativeAttentionNumBuckets,
      maxDistance: config.relativeAttentionMaxDistance,
      bidirectional: stack === 'encoder',
      causal: stack === 'decoder',
      initializer: random ? 'normal' : 'zeros',
      stddev: config.initializerFactor * inner ** -0.5,
      seed: seed === undefined ? undefined : seed++,
    });
  const selfAttention = (path: string, x: SymbolicTensor, bias: SymbolicTensor): SymbolicTensor => {
    const q = dense(`${path}.q`, inner).apply(x) as SymbolicTensor;
    const k = dense(`${path}.k`, inner).apply(x) as SymbolicTensor;
    const v = dense(`${path}.v`, inner).apply(x) as SymbolicTensor;
    const attended = new ScaledDotProductAttention({ name: glue(path, 'sdpa'), numHeads: config.numHeads, headDim: config.dKv, scoreDivisors: [] }).apply([
      q,
      k,
      v,
      bias,
    ]) as SymbolicTensor;
    return dense(`${path}.o`, config.dModel).apply(attended) as SymbolicTensor;
  };
  const feedForward = (path: string, x: SymbolicTensor): SymbolicTensor => {
    let hidden: SymbolicTensor;
    if (config.isGatedAct) {
      const gate = dense(`${path}.wi_0`, config.dFf).apply(x) as SymbolicTensor;
      const up = dense(`${path}.wi_1`, config.dFf).apply(x) as SymbolicTensor;
      hidden = new GatedActivation({ name: glue(path, 'act'), activation: config.denseActFn }).apply([gate, up]) as SymbolicTensor;
    } else {
      hidden = dense(`${path}.wi`, config.dFf).apply(x) as SymbolicTensor;
      hidden = new HFActivation({ name: glue(path, 'act'), activation: config.denseActFn }).apply(hidden) as SymbolicTensor;
    }
    return dense(`${path}.wo`, config.dModel).apply(hidden) as SymbolicTensor;
  };
  const residual = (path: string, a: SymbolicTensor, b: SymbolicTensor) => tfl.layers.add({ name: glue(path, 'residual') }).apply([a, b]) as SymbolicTensor;

  const shared = embedding({
    name: 'shared',
    inputDim: config.vocabSize,
    outputDim: config.dModel,
    embeddingsInitializer: random ? tfl.initializers.randomNormal({ mean: 0, stddev: config.initializerFactor, seed: options.seed }) : init.zeros(),
  });

  // Encoder.
  const embeds = shared.apply(inputIds) as SymbolicTensor;
  let hidden = new InputsEmbeds({ name: glue('encoder', 'inputs_embeds'), embedding: shared }).apply(embeds) as SymbolicTensor;
  const encoderMask = new AttentionMaskBias({ name: glue('encoder', 'attention_mask'), causal: false }).apply([attentionMask, hidden]) as SymbolicTensor;
  const encoderPositions = positionBias('encoder').apply(hidden) as SymbolicTensor;
  const encoderBias = new AttentionBiasSum({ name: glue('encoder', 'position_bias') }).apply([encoderPositions, encoderMask]) as SymbolicTensor;
  for (let index = 0; index < config.numLayers; index++) {
    const block = `encoder.block.${index}`;
    let x = norm(`${block}.layer.0.layer_norm`).apply(hidden) as SymbolicTensor;
    hidden = residual(`${block}.layer.0`, hidden, selfAttention(`${block}.layer.0.SelfAttention`, x, encoderBias));
    x = norm(`${block}.layer.1.layer_norm`).apply(hidden) as SymbolicTensor;
    hidden = residual(`${block}.layer.1`, hidden, feedForward(`${block}.layer.1.DenseReluDense`, x));
  }
  const encoderOutput = norm('encoder.final_layer_norm').apply(hidden) as SymbolicTensor;

  // Decoder.
  hidden = shared.apply(decoderInputIds) as SymbolicTensor;
  const decoderBias = positionBias('decoder').apply(hidden) as SymbolicTensor;
  const crossBias = new AttentionMaskBias({ name: glue('decoder', 'encoder_attention_mask'), causal: false }).apply([attentionMask, hidden]) as SymbolicTensor;
  for (let index = 0; index < config.numDecoderLayers; index++) {
    const block = `decoder.block.${index}`;
    let x = norm(`${block}.layer.0.layer_norm`).apply(hidden) as SymbolicTensor;
    hidden = residual(`${block}.layer.0`, hidden, selfAttention(`${block}.layer.0.SelfAttention`, x, decoderBias));
    x = norm(`${block}.layer.1.layer_norm`).apply(hidden) as SymbolicTensor;
    const path = `${block}.layer.1.EncDecAttention`;
    const q = dense(`${path}.q`, inner).apply(x) as SymbolicTensor;
    const k = dense(`${path}.k`, inner).apply(encoderOutput) as SymbolicTensor;
    const v = dense(`${path}.v`, inner).apply(encoderOutput) as SymbolicTensor;
    const attended = new CrossAttention({ name: glue(path, 'attention'), numHeads: config.numHeads, headDim: config.dKv }).apply([q, k, v, crossBias]) as SymbolicTensor;
    hidden = residual(`${block}.layer.1`, hidden, dense(`${path}.o`, config.dModel).apply(attended) as SymbolicTensor);
    x = norm(`${block}.layer.2.layer_norm`).apply(hidden) as SymbolicTensor;
    hidden = residual(`${block}.layer.2`, hidden, feedForward(`${block}.layer.2.DenseReluDense`, x));
  }
  hidden = norm('decoder.final_layer_norm').apply(hidden) as SymbolicTensor;

  const className = config.modelType === 'mt5' ? 'MT5' : 'T5';
  const inputs = [inputIds, attentionMask, decoderInputIds];
  if (head === 'none') return tfl.model({ inputs, outputs: hidden, name: `${className}Model` });
  let logits: SymbolicTensor;
  if (config.tieWordEmbeddings) {
    const scaled = new ConstantScale({ name: glue('decoder', 'tied_head_scale'), scale: config.dModel ** -0.5 }).apply(hidden) as SymbolicTensor;
    logits = new TiedLMHead({ name: 'lm_head', embedding: shared }).apply(scaled) as SymbolicTensor;
  } else {
    logits = linear({ name: 'lm_head', units: config.vocabSize, useBias: false, kernelInitializer: init.normal() }).apply(hidden) as SymbolicTensor;
  }
  return tfl.model({ inputs, outputs: logits, name: `${className}ForConditionalGeneration` });
}
