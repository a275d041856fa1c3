import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { INPUTS_EMBEDS_LAYER, registerLayerFormat } from '@peftjs/core';
import { LlamaRMSNorm } from './rms-norm';
import { FLOAT32_MIN, shapeList, single, singleShape, tensorList, type Kwargs, type Shape } from './layer-utils';

/** T5's `T5LayerNorm`: an RMS norm without mean subtraction or bias, `x * rsqrt(mean(x²) + eps) * weight`. */
export class T5LayerNorm extends LlamaRMSNorm {
  static override className = 'T5LayerNorm';
}

/**
 * transformers' `T5Attention._relative_position_bucket` for one relative position
 * (`key - query`), with its float32 arithmetic: bidirectional buckets halve the bucket count and
 * give positive offsets the upper half; causal buckets count only how far back the key is.
 */
export function relativePositionBucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let position = relativePosition;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (position > 0) bucket += buckets;
    position = Math.abs(position);
  } else {
    position = -Math.min(position, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (position < maxExact) return bucket + position;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(f(position) / maxExact))) / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  const large = maxExact + Math.trunc(scaled);
  return bucket + Math.min(large, buckets - 1);
}

export interface T5RelativePositionBiasArgs {
  name: string;
  numHeads: number;
  numBuckets: number;
  maxDistance: number;
  /** Encoder: true (keys on both sides); decoder self-attention: false. */
  bidirectional: boolean;
  /** Also mask keys after the query with the float32 minimum (the decoder's causal mask). */
  causal?: boolean;
  initializer?: 'zeros' | 'normal';
  seed?: number;
  stddev?: number;
}

/**
 * T5's relative position bias (`relative_attention_bias`, `[num_buckets, num_heads]`, owned by
 * block 0 of a stack and reused by its other blocks). Inputs `[keys [batch, keys, …], queries
 * [batch, queries, …]]`, or one tensor for both — only their lengths are read; the queries are
 * the last `queries` of the `keys` positions (past keys in generation come first) — output
 * `[1, heads, queries, keys]`.
 * With `causal`, keys after each query get the float32 minimum added: the decoder's
 * self-attention mask, which transformers builds from an all-ones `decoder_attention_mask`.
 */
export class T5RelativePositionBias extends layers.Layer {
  static className = 'T5RelativePositionBias';
  readonly numHeads: number;
  readonly numBuckets: number;
  readonly maxDistance: number;
  readonly bidirectional: boolean;
  readonly causal: boolean;
  private readonly initializerArgs: { kind: 'zeros' | 'normal'; seed?: number; stddev: number };
  private weightVariable: LayerVariable | undefined;

  constructor(args: T5RelativePositionBiasArgs) {
    super({ name: args.name, trainable: true });
    this.numHeads = args.numHeads;
    this.numBuckets = args.numBuckets;
    this.maxDistance = args.maxDistance;
    this.bidirectional = args.bidirectional;
    this.causal = args.causal ?? false;
    this.initializerArgs = { kind: args.initializer ?? 'zeros', seed: args.seed, stddev: args.stddev ?? 1 };
  }

  override build(_inputShape: Shape | Shape[]): void {
    const { kind, seed, stddev } = this.initializerArgs;
    const initializer = kind === 'normal' ? initializers.randomNormal({ mean: 0, stddev, seed }) : initializers.zeros();
    this.weightVariable = this.addWeight('weight', [this.numBuckets, this.numHeads], 'float32', initializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [keys, queries] = shapeList(inputShape);
    return [1, this.numHeads, (queries ?? keys)![1] ?? null, keys![1] ?? null];
  }

  /** The bucket of every (query, key) pair, `[queries * keys]`, queries at positions `keys - queries ..`. */
  buckets(queries: number, keys: number): Int32Array {
    const past = keys - queries;
    const result = new Int32Array(queries * keys);
    for (let query = 0; query < queries; query++) {
      for (let key = 0; key < keys; key++) {
        result[query * keys + key] = relativePositionBucket(key - (past + query), this.bidirectional, this.numBuckets, this.maxDistance);
      }
    }
    return result;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [keysCarrier, queriesCarrier] = tensorList(inputs);
      const keys = keysCarrier!.shape[1]!;
      const queries = (queriesCarrier ?? keysCarrier)!.shape[1]!;
      if (keys < queries) throw new Error(`${this.name}: ${keys} key positions for ${queries} queries; the keys must cover the past and the new positions`);
      const buckets = tf.tensor1d(this.buckets(queries, keys), 'int32');
      // [queries * keys, heads] → [1, heads, queries, keys]
      let bias = tf.reshape(tf.transpose(tf.gather(this.weightVariable!.read(), buckets)), [1, this.numHeads, queries, keys]);
      if (this.causal) {
        const past = keys - queries;
        const keyPositions = tf.reshape(tf.range(0, keys, 1, 'int32'), [1, 1, 1, keys]);
        const queryPositions = tf.reshape(tf.range(past, past + queries, 1, 'int32'), [1, 1, queries, 1]);
        const mask = tf.where(tf.lessEqual(keyPositions, queryPositions), tf.zeros([1, 1, queries, keys]), tf.fill([1, 1, queries, keys], FLOAT32_MIN));
        bias = tf.add(bias, mask);
      }
      return bias;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      numBuckets: this.numBuckets,
      maxDistance: this.maxDistance,
      bidirectional: this.bidirectional,
      causal: this.causal,
    };
  }
}

/** Adds a position bias `[1, heads, queries, keys]` and a mask bias `[batch, 1, 1 | queries, keys]` (T5's `position_bias + mask`). */
export class AttentionBiasSum extends layers.Layer {
  static className = 'AttentionBiasSum';

  constructor(args: { name: string }) {
    super({ name: args.name, trainable: false });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [position, mask] = shapeList(inputShape);
    return [mask![0] ?? null, position![1] ?? null, position![2] ?? null, position![3] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [position, mask] = tensorList(inputs);
      return tf.add(position!, mask!);
    });
  }
}

/**
 * Attention over another sequence (an encoder-decoder's cross-attention): inputs `q`
 * `[batch, queries, heads * headDim]`, `k`, `v` `[batch, keys, heads * headDim]` and the mask bias
 * `[batch, 1, 1, keys]`; `softmax(q kᵀ / divisors + bias) v`, `[batch, queries, heads * headDim]`.
 * Unlike ScaledDotProductAttention it keeps no cache: its keys and values do not grow during
 * generation, and `generate()` computes them once from the encoder output.
 */
export class CrossAttention extends layers.Layer {
  static className = 'CrossAttention';
  readonly numHeads: number;
  readonly headDim: number;
  readonly scoreDivisors: number[];

  constructor(args: { name: string; numHeads: number; headDim: number; scoreDivisors?: number[] }) {
    super({ name: args.name, trainable: false });
    this.numHeads = args.numHeads;
    this.headDim = args.headDim;
    this.scoreDivisors = [...(args.scoreDivisors ?? [])];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [q] = shapeList(inputShape);
    return [q![0] ?? null, q![1] ?? null, this.numHeads * this.headDim];
  }

  private heads(x: tf.Tensor): tf.Tensor {
    const [batch, seq] = x.shape as [number, number, number];
    return tf.transpose(tf.reshape(x, [batch, seq, this.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [qIn, kIn, vIn, bias] = tensorList(inputs);
      const [batch, queries] = qIn!.shape as [number, number, number];
      let scores = tf.matMul(this.heads(qIn!), this.heads(kIn!), false, true);
      for (const divisor of this.scoreDivisors) scores = tf.div(scores, divisor);
      const probabilities = tf.softmax(tf.add(scores, bias!), -1);
      const context = tf.matMul(probabilities, this.heads(vIn!));
      return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, queries, this.numHeads * this.headDim]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads, headDim: this.headDim, scoreDivisors: this.scoreDivisors };
  }
}

/** Multiplies by a constant: T5's `sequence_output * d_model**-0.5` before a tied `lm_head`. */
export class ConstantScale extends layers.Layer {
  static className = 'ConstantScale';
  readonly scale: number;

  constructor(args: { name: string; scale: number }) {
    super({ name: args.name, trainable: false });
    this.scale = args.scale;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => tf.mul(single(inputs), this.scale));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale };
  }
}

/**
 * The seam where an encoder-decoder's encoder takes its input embeddings (transformers'
 * `inputs_embeds`): an identity on `[batch, seq, d_model]`, after the shared token embedding
 * looks up `input_ids`. The token embedding (`shared`) also serves the decoder, so a method that
 * changes only the encoder's input — PEFT's seq2seq prompt tuning prepends its virtual tokens
 * here — wraps this layer; `embeddingLayer` is the token embedding it follows (for a prompt
 * initialised from token embeddings). Marked with core's `INPUTS_EMBEDS_LAYER`.
 */
export class InputsEmbeds extends layers.Layer {
  static className = 'InputsEmbeds';
  readonly [INPUTS_EMBEDS_LAYER] = true;
  /** The token embedding whose output this is (not serialized). */
  embeddingLayer: layers.Layer | undefined;

  constructor(args: { name: string; embedding?: layers.Layer }) {
    super({ name: args.name, trainable: false });
    this.embeddingLayer = args.embedding;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.clone(single(inputs));
  }
}

tf.serialization.registerClass(T5LayerNorm);
tf.serialization.registerClass(T5RelativePositionBias);
tf.serialization.registerClass(AttentionBiasSum);
tf.serialization.registerClass(CrossAttention);
tf.serialization.registerClass(ConstantScale);
tf.serialization.registerClass(InputsEmbeds);
registerLayerFormat(T5LayerNorm.className, { weights: { weight: { torchName: 'weight' } } });
registerLayerFormat(T5RelativePositionBias.className, { weights: { weight: { torchName: 'weight' } } });
