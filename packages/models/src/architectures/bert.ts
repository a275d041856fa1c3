import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ConfigReader, type PretrainedConfig } from '../config/pretrained-config';
import { ModelLoadError } from '../errors';
import { HFActivation, isActivationName, type ActivationName } from '../layers/activations';
import { AttentionMaskBias } from '../layers/attention-mask';
import { PositionIds, SelectToken } from '../layers/position-ids';
import { embedding as storedEmbedding } from '../layers/embedding';
import { linear } from '../layers/linear';
import { ScaledDotProductAttention } from '../layers/scaled-dot-product-attention';
import type { BuildOptions } from './build-options';
import { glue, join, makeInitializers } from './init';
import { ATTENTION_MASK, INPUT_IDS, TOKEN_TYPE_IDS } from './inputs';
import { layerNorm as fusedLayerNorm } from '../layers/layer-norm';

/** BERT's `problem_type`: how sequence-classification labels are scored. */
export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenAct: ActivationName;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  initializerRange: number;
  numLabels: number;
  problemType: ProblemType | null;
}

export function bertConfig(raw: PretrainedConfig, source = 'config.json'): BertConfig {
  const read = new ConfigReader(raw, source);
  const hiddenSize = read.integer('hidden_size', 768, 1);
  const numAttentionHeads = read.integer('num_attention_heads', 12, 1);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw new ModelLoadError(`${source}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`, { problem: 'invalid-config', path: source });
  }
  const hiddenAct = read.string('hidden_act', 'gelu');
  if (!isActivationName(hiddenAct)) throw new ModelLoadError(`${source}: hidden_act "${hiddenAct}" is not supported`, { problem: 'invalid-config', path: source });
  const positionType = read.string('position_embedding_type', 'absolute');
  if (positionType !== 'absolute') {
    throw new ModelLoadError(`${source}: position_embedding_type "${positionType}" is not supported (only "absolute")`, { problem: 'invalid-config', path: source });
  }
  const id2label = read.object('id2label');
  const problemType = read.has('problem_type') ? read.string('problem_type', '') : null;
  if (problemType !== null && !['regression', 'single_label_classification', 'multi_label_classification'].includes(problemType)) {
    throw new ModelLoadError(`${source}: problem_type "${problemType}" is not one of regression, single_label_classification, multi_label_classification`, {
      problem: 'invalid-config',
      path: source,
    });
  }
  return {
    vocabSize: read.integer('vocab_size', 30522, 1),
    hiddenSize,
    numHiddenLayers: read.integer('num_hidden_layers', 12, 1),
    numAttentionHeads,
    intermediateSize: read.integer('intermediate_size', 3072, 1),
    hiddenAct,
    maxPositionEmbeddings: read.integer('max_position_embeddings', 512, 1),
    typeVocabSize: read.integer('type_vocab_size', 2, 1),
    layerNormEps: read.number('layer_norm_eps', 1e-12),
    initializerRange: read.number('initializer_range', 0.02),
    numLabels: id2label ? Object.keys(id2label).length : read.integer('num_labels', 2, 1),
    problemType: problemType as ProblemType | null,
  };
}

export type BertHead = 'none' | 'sequence-classification' | 'token-classification';

/**
 * Builds BERT as a functional LayersModel with transformers' module paths as layer names:
 * `bert.embeddings.word_embeddings`, `bert.encoder.layer.0.attention.self.query` / `key` /
 * `value`, `…attention.output.dense`, `…intermediate.dense`, `…output.dense`, `bert.pooler.dense`,
 * `classifier`. `head: 'none'` gives `BertModel` (paths without the `bert.` prefix).
 *
 * Inputs: `input_ids`, `attention_mask`, `token_type_ids`, each `[batch, seq]`.
 * Outputs: class logits `[batch, num_labels]` (sequence classification), token logits
 * `[batch, seq, num_labels]` (token classification), or `[last_hidden_state, pooler_output]`.
 */
export function buildBert(config: BertConfig, options: BuildOptions & { head?: BertHead } = {}): LayersModel {
  const head = options.head ?? 'none';
  const prefix = head === 'none' ? '' : 'bert';
  const init = makeInitializers(options.init ?? 'random', config.initializerRange, options.seed);
  const inputIds = tfl.input({ shape: [null], dtype: 'int32', name: INPUT_IDS });
  const attentionMask = tfl.input({ shape: [null], dtype: 'float32', name: ATTENTION_MASK });
  const tokenTypeIds = tfl.input({ shape: [null], dtype: 'int32', name: TOKEN_TYPE_IDS });
  const headDim = config.hiddenSize / config.numAttentionHeads;

  const dense = (name: string, units: number) => linear({ name, units, useBias: true, kernelInitializer: init.normal(), biasInitializer: init.zeros() });
  const layerNorm = (name: string) => fusedLayerNorm({ name, axis: -1, epsilon: config.layerNormEps, gammaInitializer: init.ones(), betaInitializer: init.zeros() });
  const embedding = (name: string, inputDim: number) => storedEmbedding({ name, inputDim, outputDim: config.hiddenSize, embeddingsInitializer: init.normal() });

  const embeddings = join(prefix, 'embeddings');
  const words = embedding(`${embeddings}.word_embeddings`, config.vocabSize).apply(inputIds) as SymbolicTensor;
  const positionIds = new PositionIds({ name: glue(embeddings, 'position_ids') }).apply(words) as SymbolicTensor;
  const positions = embedding(`${embeddings}.position_embeddings`, config.maxPositionEmbeddings).apply(positionIds) as SymbolicTensor;
  const tokenTypes = embedding(`${embeddings}.token_type_embeddings`, config.typeVocabSize).apply(tokenTypeIds) as SymbolicTensor;
  let hidden = tfl.layers.add({ name: glue(embeddings, 'sum') }).apply([words, tokenTypes, positions]) as SymbolicTensor;
  hidden = layerNorm(`${embeddings}.LayerNorm`).apply(hidden) as SymbolicTensor;
  const bias = new AttentionMaskBias({ name: glue(join(prefix, 'encoder'), 'attention_mask'), causal: false }).apply([attentionMask, hidden]) as SymbolicTensor;

  for (let index = 0; index < config.numHiddenLayers; index++) {
    const block = join(prefix, `encoder.layer.${index}`);
    const q = dense(`${block}.attention.self.query`, config.hiddenSize).apply(hidden) as SymbolicTensor;
    const k = dense(`${block}.attention.self.key`, config.hiddenSize).apply(hidden) as SymbolicTensor;
    const v = dense(`${block}.attention.self.value`, config.hiddenSize).apply(hidden) as SymbolicTensor;
    let x = new ScaledDotProductAttention({
      name: glue(`${block}.attention.self`, 'sdpa'),
      numHeads: config.numAttentionHeads,
      headDim,
      scoreDivisors: [Math.sqrt(headDim)],
    }).apply([q, k, v, bias]) as SymbolicTensor;
    x = dense(`${block}.attention.output.dense`, config.hiddenSize).apply(x) as SymbolicTensor;
    x = tfl.layers.add({ name: glue(`${block}.attention.output`, 'residual') }).apply([x, hidden]) as SymbolicTensor;
    const attended = layerNorm(`${block}.attention.output.LayerNorm`).apply(x) as SymbolicTensor;
    x = dense(`${block}.intermediate.dense`, config.intermediateSize).apply(attended) as SymbolicTensor;
    x = new HFActivation({ name: glue(`${block}.intermediate`, 'intermediate_act_fn'), activation: config.hiddenAct }).apply(x) as SymbolicTensor;
    x = dense(`${block}.output.dense`, config.hiddenSize).apply(x) as SymbolicTensor;
    x = tfl.layers.add({ name: glue(`${block}.output`, 'residual') }).apply([x, attended]) as SymbolicTensor;
    hidden = layerNorm(`${block}.output.LayerNorm`).apply(x) as SymbolicTensor;
  }

  const inputs = [inputIds, attentionMask, tokenTypeIds];
  if (head === 'token-classification') {
    const logits = dense('classifier', config.numLabels).apply(hidden) as SymbolicTensor;
    return tfl.model({ inputs, outputs: logits, name: 'BertForTokenClassification' });
  }
  const pooler = join(prefix, 'pooler');
  let pooled = new SelectToken({ name: glue(pooler, 'first_token') }).apply(hidden) as SymbolicTensor;
  pooled = dense(`${pooler}.dense`, config.hiddenSize).apply(pooled) as SymbolicTensor;
  pooled = new HFActivation({ name: glue(pooler, 'activation'), activation: 'tanh' }).apply(pooled) as SymbolicTensor;
  if (head === 'none') return tfl.model({ inputs, outputs: [hidden, pooled], name: 'BertModel' });
  const logits = dense('classifier', config.numLabels).apply(pooled) as SymbolicTensor;
  return tfl.model({ inputs, outputs: logits, name: 'BertForSequenceClassification' });
}
