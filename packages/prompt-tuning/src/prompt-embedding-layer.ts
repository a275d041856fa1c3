import * as tf from '@tensorflow/tfjs-core';
import { TunerLayer, type ParamRef } from '@peftjs/core';
import { promptInjectionEnabled } from './prompt-injection';
import { LstmHead, MlpHead, type PromptHead } from './prompt-head';
import { PromptLearningLayer, type PromptLayerArgs, type PromptLayerOptions } from './prompt-learning-layer';
import { PromptSource } from './prompt-source';
import { embeddingInit } from './torch-init';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

/** P-tuning's encoder, when the adapter trains one (not in inference mode). */
export interface PromptEncoderOptions {
  type: 'MLP' | 'LSTM';
  hiddenSize: number;
  numLayers: number;
  dropout: number;
}

/** One adapter of a PromptEmbedding layer. */
export interface PromptEmbeddingOptions extends PromptLayerOptions {
  /** The weight prefix of the method (`prompt_tuning_`, `p_tuning_`). */
  methodPrefix: string;
  /** Rows of the embedding table: num_virtual_tokens × num_transformer_submodules. */
  totalVirtualTokens: number;
  tokenDim: number;
  encoder: PromptEncoderOptions | null;
  /** TEXT init: the ids whose word embeddings start the table; null for random N(0, 1). */
  initTokenIds: number[] | null;
}

/**
 * Prompt tuning and P-tuning on the model's word embedding (`transformer.wte`,
 * `model.embed_tokens`): `concat(prompt, wte(input_ids))` along the sequence, PEFT's
 * `inputs_embeds` — so position ids, which the models compute from the embeddings, run over the
 * virtual tokens too. The layer holds each adapter's virtual-token embedding (and encoder).
 */
export class PromptEmbedding extends PromptLearningLayer {
  static className = 'PromptEmbedding';
  private readonly sources = new Map<string, PromptSource>();

  constructor(args: PromptLayerArgs) {
    super(args);
  }

  /** The adapter's virtual tokens (PEFT's `prompt_encoder[adapter]`). */
  promptSource(adapterName: string): PromptSource {
    this.assertAdapter(adapterName);
    return this.sources.get(adapterName)!;
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as PromptEmbeddingOptions;
    const rows = options.totalVirtualTokens;
    // On an encoder's inputs_embeds seam (seq2seq), the token embedding is the layer before it.
    const base = this.baseLayer;
    const tokenEmbedding = (base as unknown as { embeddingLayer?: typeof base }).embeddingLayer ?? base;
    const embedding = options.initTokenIds
      ? tf.tidy(() => tf.gather(tokenEmbedding.weights[0]!.read(), tf.tensor1d(options.initTokenIds!, 'int32')))
      : embeddingInit(rows, options.tokenDim);
    const variablePrefix = `${this.name}/${options.methodPrefix}${adapterName}.`;
    let head: PromptHead | undefined;
    if (options.encoder?.type === 'MLP') {
      const hidden = options.encoder.hiddenSize;
      head = new MlpHead('mlp_head', [options.tokenDim, hidden, hidden, options.tokenDim], 'relu', variablePrefix);
    } else if (options.encoder?.type === 'LSTM') {
      const { hiddenSize, numLayers, dropout } = options.encoder;
      head = new LstmHead(options.tokenDim, hiddenSize, numLayers, dropout, options.tokenDim, variablePrefix);
    }
    const source = new PromptSource({ methodPrefix: options.methodPrefix, adapterName, variablePrefix, embedding, head, outputDim: options.tokenDim });
    this.sources.set(adapterName, source);
    return source.params;
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.sources.delete(adapterName);
  }

  protected promptCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const embedded = this.baseCall(inputs, kwargs) as tf.Tensor;
    const active = this.activeAdapter<PromptEmbeddingOptions>();
    if (!active || !promptInjectionEnabled()) return embedded;
    return tf.concat([this.virtualTokens(active.name, active.options, embedded.shape[0]!, kwargs.training === true), embedded], 1);
  }

  /** The virtual tokens prepended in one forward pass, `[batch, num_virtual_tokens, dim]` (the same for every row here). */
  protected virtualTokens(adapterName: string, options: PromptEmbeddingOptions, batch: number, training: boolean): tf.Tensor {
    const { numVirtualTokens, tokenDim } = options;
    const prompt = tf.slice(this.sources.get(adapterName)!.output(training), [0, 0], [numVirtualTokens, tokenDim]);
    return tf.tile(tf.expandDims(prompt, 0), [batch, 1, 1]);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const shape = this.baseLayer.computeOutputShape(inputShape) as Shape;
    return [shape[0] ?? null, null, ...shape.slice(2)];
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new PromptEmbedding({ ...args, peftType: config.peftType as string }), config) as unknown as T;
  }
}
