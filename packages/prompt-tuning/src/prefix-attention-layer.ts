import * as tf from '@tensorflow/tfjs-core';
import { AdapterStateError, isKeyValueCacheLayer, KEY_VALUE_CACHE_LAYER, TunerLayer, type KeyValueCacheLayer, type ParamRef } from '@peftjs/core';
import { MlpHead } from './prompt-head';
import { PromptLearningLayer, type PromptLayerArgs, type PromptLayerOptions } from './prompt-learning-layer';
import { PromptSource } from './prompt-source';
import { embeddingInit } from './torch-init';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

/** One adapter of a PrefixAttention layer. */
export interface PrefixAttentionOptions extends PromptLayerOptions {
  /** This attention layer's index: its key is chunk 2·i, its value chunk 2·i + 1 of the prefix. */
  layerIndex: number;
  numLayers: number;
  /** PEFT's view of the prefix: `[nvt, num_layers·2, num_attention_heads, token_dim / num_attention_heads]`. */
  numHeads: number;
  tokenDim: number;
  /** Whether this layer holds the adapter's prefix encoder (the first attention layer does; the others share it). */
  owner: boolean;
  /** The owner's encoder: `prefix_projection` (training only) and its hidden size. */
  prefixProjection: boolean;
  encoderHiddenSize: number;
  methodPrefix: string;
}

/**
 * Prefix tuning in one attention core: the adapter's per-layer key/value prefix
 * `[batch, heads, nvt, head_dim]` goes in as past keys/values, as PEFT passes `past_key_values`.
 * Without a cache the layer returns the attention output only; in a KV-cached graph an empty past
 * is replaced by the prefix (the first generation step), and a filled one — which already starts
 * with the prefix — is left alone.
 */
export class PrefixAttention extends PromptLearningLayer implements KeyValueCacheLayer {
  static className = 'PrefixAttention';
  readonly [KEY_VALUE_CACHE_LAYER] = true as const;
  private readonly sources = new Map<string, PromptSource>();

  constructor(args: PromptLayerArgs) {
    super(args);
    if (!isKeyValueCacheLayer(args.baseLayer)) {
      throw new AdapterStateError(`prefix tuning needs an attention layer that takes past keys/values; "${args.baseLayer.name}" (${args.baseLayer.getClassName()}) does not`);
    }
  }

  private get core(): KeyValueCacheLayer {
    return this.baseLayer as unknown as KeyValueCacheLayer;
  }

  get numKeyValueHeads(): number {
    return this.core.numKeyValueHeads;
  }

  get headDim(): number {
    return this.core.headDim;
  }

  get baseInputCount(): number {
    return this.core.baseInputCount;
  }

  /** The adapter's prefix encoder (held by the first attention layer, shared by the others). */
  promptSource(adapterName: string): PromptSource {
    this.assertAdapter(adapterName);
    const source = this.sources.get(adapterName);
    if (!source)
      throw new AdapterStateError(`prefix adapter "${adapterName}" of layer "${this.name}" has no prefix encoder (a deserialized non-first attention layer cannot find it)`);
    return source;
  }

  /** Whether this layer holds the adapter's encoder (and its parameters). */
  ownsSource(adapterName: string): boolean {
    return this.getAdapterOptions<PrefixAttentionOptions>(adapterName).owner;
  }

  /** Points a non-owning layer at the adapter's encoder. */
  shareSource(adapterName: string, source: PromptSource): void {
    this.assertAdapter(adapterName);
    this.sources.set(adapterName, source);
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as PrefixAttentionOptions;
    if (!options.owner) return new Map();
    const width = options.numLayers * 2 * options.tokenDim;
    const variablePrefix = `${this.name}/${options.methodPrefix}${adapterName}.`;
    const source = options.prefixProjection
      ? new PromptSource({
          methodPrefix: options.methodPrefix,
          adapterName,
          variablePrefix,
          embedding: embeddingInit(options.numVirtualTokens, options.tokenDim),
          head: new MlpHead('transform', [options.tokenDim, options.encoderHiddenSize, width], 'tanh', variablePrefix),
          outputDim: width,
        })
      : new PromptSource({ methodPrefix: options.methodPrefix, adapterName, variablePrefix, embedding: embeddingInit(options.numVirtualTokens, width) });
    this.sources.set(adapterName, source);
    return source.params;
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.sources.delete(adapterName);
  }

  /** This layer's `[key, value]` prefix, each `[batch, heads, nvt, head_dim]`. */
  private prefix(adapterName: string, options: PrefixAttentionOptions, batch: number, training: boolean): [tf.Tensor, tf.Tensor] {
    const { numVirtualTokens, numLayers, numHeads, tokenDim, layerIndex } = options;
    const headDim = tokenDim / numHeads;
    const all = tf.reshape(this.promptSource(adapterName).output(training), [numVirtualTokens, numLayers * 2, numHeads, headDim]);
    const pick = (chunk: number) => {
      const part = tf.reshape(tf.slice(all, [0, chunk, 0, 0], [numVirtualTokens, 1, numHeads, headDim]), [numVirtualTokens, numHeads, headDim]);
      return tf.tile(tf.expandDims(tf.transpose(part, [1, 0, 2]), 0), [batch, 1, 1, 1]);
    };
    return [pick(2 * layerIndex), pick(2 * layerIndex + 1)];
  }

  protected promptCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const active = this.activeAdapter<PrefixAttentionOptions>();
    if (!active) return this.baseCall(inputs, kwargs);
    const count = this.baseInputCount;
    const batch = inputs[0]!.shape[0]!;
    const training = kwargs.training === true;
    if (inputs.length === count) {
      const [key, value] = this.prefix(active.name, active.options, batch, training);
      return (this.baseCall([...inputs, key, value], kwargs) as tf.Tensor[])[0]!;
    }
    const pastKey = inputs[count]!;
    if (pastKey.shape[2] !== 0) return this.baseCall(inputs, kwargs);
    const [key, value] = this.prefix(active.name, active.options, batch, training);
    return this.baseCall([...inputs.slice(0, count), key, value], kwargs);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return this.baseLayer.computeOutputShape(inputShape);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new PrefixAttention({ ...args, peftType: config.peftType as string }), config) as unknown as T;
  }
}
