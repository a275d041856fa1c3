import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigReader, type PretrainedConfig } from '../config/pretrained-config';
import { ModelLoadError } from '../errors';
import { embedding } from '../layers/embedding';
import { HFActivation, isActivationName, type ActivationName } from '../layers/activations';
import { AttentionMaskBias } from '../layers/attention-mask';
import { gpt2Conv1D } from '../layers/gpt2-conv1d';
import { PositionIds } from '../layers/position-ids';
import { linear } from '../layers/linear';
import { ScaledDotProductAttention } from '../layers/scaled-dot-product-attention';
import { TiedLMHead } from '../layers/tied-lm-head';
import type { BuildOptions } from './build-options';
import { glue, join, makeInitializers } from './init';
import { causalInputs } from './inputs';
import { layerNorm as fusedLayerNorm } from '../layers/layer-norm';

/** The fields of transformers' GPT2Config that the architecture uses. */
export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nInner: number;
  activationFunction: ActivationName;
  layerNormEpsilon: number;
  initializerRange: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  tieWordEmbeddings: boolean;
}

export function gpt2Config(raw: PretrainedConfig, source = 'config.json'): GPT2Config {
  const read = new ConfigReader(raw, source);
  const nEmbd = read.integer('n_embd', 768, 1);
  const nHead = read.integer('n_head', 12, 1);
  if (nEmbd % nHead !== 0) throw new ModelLoadError(`${source}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`, { problem: 'invalid-config', path: source });
  const activation = read.string('activation_function', 'gelu_new');
  if (!isActivationName(activation)) throw new ModelLoadError(`${source}: activation_function "${activation}" is not supported`, { problem: 'invalid-config', path: source });
  return {
    vocabSize: read.integer('vocab_size', 50257, 1),
    nPositions: read.integer('n_positions', 1024, 1),
    nEmbd,
    nLayer: read.integer('n_layer', 12, 1),
    nHead,
    nInner: read.has('n_inner') ? read.integer('n_inner', undefined, 1) : 4 * nEmbd,
    activationFunction: activation,
    layerNormEpsilon: read.number('layer_norm_epsilon', 1e-5),
    initializerRange: read.number('initializer_range', 0.02),
    scaleAttnWeights: read.boolean('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: read.boolean('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: read.boolean('tie_word_embeddings', true),
  };
}

/**
 * Builds GPT-2 as a functional LayersModel. Layer names are transformers' module paths:
 * `transformer.wte`, `transformer.h.0.attn.c_attn` (a `GPT2Conv1D`), `transformer.h.0.mlp.c_proj`,
 * `lm_head` (tied to `transformer.wte`). `head: 'none'` gives `GPT2Model`, whose paths have no
 * `transformer.` prefix, as in transformers.
 *
 * Inputs: `input_ids` `[batch, seq]` int32, `attention_mask` `[batch, seq]` (1 = attend).
 * Output: logits `[batch, seq, vocab]` (or the last hidden state `[batch, seq, n_embd]`).
 */
export function buildGPT2(config: GPT2Config, options: BuildOptions & { head?: 'causal-lm' | 'none' } = {}): LayersModel {
  const head = options.head ?? 'causal-lm';
  const prefix = head === 'none' ? '' : 'transformer';
  const init = makeInitializers(options.init ?? 'random', config.initializerRange, options.seed);
  const { inputIds, attentionMask } = causalInputs();
  const headDim = config.nEmbd / config.nHead;

  const dense = (name: string, units: number) => gpt2Conv1D({ name, units, useBias: true, kernelInitializer: init.normal(), biasInitializer: init.zeros() });
  const layerNorm = (name: string) => fusedLayerNorm({ name, axis: -1, epsilon: config.layerNormEpsilon, gammaInitializer: init.ones(), betaInitializer: init.zeros() });

  const wte = embedding({ name: join(prefix, 'wte'), inputDim: config.vocabSize, outputDim: config.nEmbd, embeddingsInitializer: init.normal() });
  const tokens = wte.apply(inputIds) as SymbolicTensor;
  const positionIds = new PositionIds({ name: glue(prefix, 'position_ids') }).apply(tokens) as SymbolicTensor;
  const wpe = embedding({ name: join(prefix, 'wpe'), inputDim: config.nPositions, outputDim: config.nEmbd, embeddingsInitializer: init.normal() });
  let hidden = tfl.layers.add({ name: glue(prefix, 'embeddings') }).apply([tokens, wpe.apply(positionIds) as SymbolicTensor]) as SymbolicTensor;
  const bias = new AttentionMaskBias({ name: glue(prefix, 'attention_mask'), causal: true }).apply([attentionMask, hidden]) as SymbolicTensor;

  for (let index = 0; index < config.nLayer; index++) {
    const block = join(prefix, `h.${index}`);
    const divisors: number[] = [];
    if (config.scaleAttnWeights) divisors.push(Math.sqrt(headDim));
    if (config.scaleAttnByInverseLayerIdx) divisors.push(index + 1);
    let x = layerNorm(`${block}.ln_1`).apply(hidden) as SymbolicTensor;
    x = dense(`${block}.attn.c_attn`, 3 * config.nEmbd).apply(x) as SymbolicTensor;
    x = new ScaledDotProductAttention({ name: glue(`${block}.attn`, 'sdpa'), numHeads: config.nHead, headDim, scoreDivisors: divisors, fusedQkv: true }).apply([
      x,
      bias,
    ]) as SymbolicTensor;
    x = dense(`${block}.attn.c_proj`, config.nEmbd).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'attn_residual') }).apply([x, hidden]) as SymbolicTensor;
    x = layerNorm(`${block}.ln_2`).apply(hidden) as SymbolicTensor;
    x = dense(`${block}.mlp.c_fc`, config.nInner).apply(x) as SymbolicTensor;
    x = new HFActivation({ name: glue(`${block}.mlp`, 'act'), activation: config.activationFunction }).apply(x) as SymbolicTensor;
    x = dense(`${block}.mlp.c_proj`, config.nEmbd).apply(x) as SymbolicTensor;
    hidden = tfl.layers.add({ name: glue(block, 'mlp_residual') }).apply([hidden, x]) as SymbolicTensor;
  }
  hidden = layerNorm(join(prefix, 'ln_f')).apply(hidden) as SymbolicTensor;

  if (head === 'none') return tfl.model({ inputs: [inputIds, attentionMask], outputs: hidden, name: 'GPT2Model' });
  const lmHead = config.tieWordEmbeddings
    ? new TiedLMHead({ name: 'lm_head', embedding: wte })
    : linear({ name: 'lm_head', units: config.vocabSize, useBias: false, kernelInitializer: init.normal() });
  const logits = lmHead.apply(hidden) as SymbolicTensor;
  return tfl.model({ inputs: [inputIds, attentionMask], outputs: logits, name: 'GPT2LMHeadModel' });
}
