import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { KEY_VALUE_CACHE_LAYER, type KeyValueCacheLayer } from '@peftjs/core';
import { attentionOp } from './fused/attention-op';
import { rotaryOp } from './fused/rotary-op';
import { shapeList, tensorList, type Kwargs, type Shape } from './layer-utils';

export interface ScaledDotProductAttentionArgs {
  name: string;
  numHeads: number;
  /** Grouped-query attention: each kv head serves numHeads / numKeyValueHeads consecutive query heads. */
  numKeyValueHeads?: number;
  headDim: number;
  /** Scores are divided by each of these in turn (transformers divides by sqrt(head_dim), GPT-2 optionally by layer_idx + 1). */
  scoreDivisors: number[];
  /** One fused `[q | k | v]` input (GPT-2 `c_attn`) instead of three. */
  fusedQkv?: boolean;
  /** Rotary embeddings: `[cos, sin]` inputs follow the mask bias. */
  rotary?: boolean;
  /**
   * How a fused input is laid out: `'concatenated'` (default) is `[all q | all k | all v]` (GPT-2
   * `c_attn`); `'per-head'` is BLOOM's `query_key_value`, viewed as `[batch, seq, heads, 3, headDim]`.
   */
  fusedLayout?: 'concatenated' | 'per-head';
  /**
   * ALiBi (BLOOM): one slope per head; `slope_h * pos_k` is added to the scores, where `pos_k` is
   * the key's position among the keys the query may attend to (`cumsum(mask) - 1`, counted from
   * the mask bias), which equals transformers' `(cumsum(attention_mask) - 1) * attention_mask` on
   * every key that is not masked.
   */
  alibiSlopes?: readonly number[] | null;
}

/**
 * `slope_h * pos_k` `[batch, heads, queries, keys]` from an additive mask bias
 * `[batch, 1, queries, keys]` (0 = attend): `pos_k` counts the attended keys before key k.
 */
function alibiBias(bias: tf.Tensor, slopes: readonly number[]): tf.Tensor {
  const allowed = tf.cast(tf.equal(bias, 0), 'float32');
  const positions = tf.sub(tf.cumsum(allowed, 3), 1);
  return tf.mul(positions, tf.reshape(tf.tensor1d([...slopes], 'float32'), [1, slopes.length, 1, 1]));
}

/**
 * The attention core between the projections: splits heads, applies RoPE, appends past keys and
 * values, and computes `softmax(q kᵀ / d + bias) v`. Inputs: `q, k, v` (or one fused `qkv`), the
 * bias from `AttentionMaskBias`, then `cos, sin` when rotary, then optionally `pastKey, pastValue`.
 * Output: `[batch, seq, numHeads * headDim]` (plus the present keys/values when past was given).
 * The projections stay separate graph layers so that PEFT methods can target them.
 */
export class ScaledDotProductAttention extends layers.Layer implements KeyValueCacheLayer {
  static className = 'ScaledDotProductAttention';
  readonly [KEY_VALUE_CACHE_LAYER] = true as const;
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly scoreDivisors: number[];
  readonly fusedQkv: boolean;
  readonly rotary: boolean;
  readonly fusedLayout: 'concatenated' | 'per-head';
  readonly alibiSlopes: readonly number[] | null;

  constructor(args: ScaledDotProductAttentionArgs) {
    super({ name: args.name, trainable: false });
    this.numHeads = args.numHeads;
    this.numKeyValueHeads = args.numKeyValueHeads ?? args.numHeads;
    this.headDim = args.headDim;
    this.scoreDivisors = [...args.scoreDivisors];
    this.fusedQkv = args.fusedQkv ?? false;
    this.rotary = args.rotary ?? false;
    this.fusedLayout = args.fusedLayout ?? 'concatenated';
    this.alibiSlopes = args.alibiSlopes ? [...args.alibiSlopes] : null;
    if (this.alibiSlopes && this.alibiSlopes.length !== this.numHeads) {
      throw new Error(`${this.name}: ${this.alibiSlopes.length} ALiBi slopes for ${this.numHeads} heads`);
    }
    if (this.numHeads % this.numKeyValueHeads !== 0) {
      throw new Error(`${this.name}: ${this.numHeads} attention heads are not a multiple of ${this.numKeyValueHeads} key/value heads`);
    }
  }

  /** How many inputs come before the optional past key/value pair. */
  get baseInputCount(): number {
    return (this.fusedQkv ? 1 : 3) + 1 + (this.rotary ? 2 : 0);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const shapes = shapeList(inputShape);
    const [batch, seq] = shapes[0]!;
    const output: Shape = [batch ?? null, seq ?? null, this.numHeads * this.headDim];
    if (shapes.length === this.baseInputCount) return output;
    const present: Shape = [batch ?? null, this.numKeyValueHeads, null, this.headDim];
    return [output, present, [...present]];
  }

  private heads(x: tf.Tensor, count: number): tf.Tensor {
    const [batch, seq] = x.shape as [number, number, number];
    return tf.transpose(tf.reshape(x, [batch, seq, count, this.headDim]), [0, 2, 1, 3]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const list = tensorList(inputs);
    const withPast = list.length === this.baseInputCount + 2;
    if (!withPast && list.length !== this.baseInputCount) {
      throw new Error(`${this.name}: expected ${this.baseInputCount} inputs (or ${this.baseInputCount + 2} with past keys/values), got ${list.length}`);
    }
    return tf.tidy(() => {
      let index = 0;
      let q: tf.Tensor;
      let k: tf.Tensor;
      let v: tf.Tensor;
      if (this.fusedQkv && this.fusedLayout === 'per-head') {
        const fused = list[index++]!;
        const [batch, seq] = fused.shape as [number, number, number];
        const parts = tf.split(tf.reshape(fused, [batch, seq, this.numHeads, 3, this.headDim]), 3, 3);
        [q, k, v] = parts.map((part) => tf.reshape(part, [batch, seq, this.numHeads * this.headDim])) as [tf.Tensor, tf.Tensor, tf.Tensor];
      } else if (this.fusedQkv) {
        const size = this.numHeads * this.headDim;
        [q, k, v] = tf.split(list[index++]!, [size, size, size], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
      } else {
        q = list[index++]!;
        k = list[index++]!;
        v = list[index++]!;
      }
      const bias = list[index++]!;
      const [batch, seq] = q.shape as [number, number, number];
      q = this.heads(q, this.numHeads);
      k = this.heads(k, this.numKeyValueHeads);
      v = this.heads(v, this.numKeyValueHeads);
      if (this.rotary) {
        const cos = tf.expandDims(list[index++]!, 1);
        const sin = tf.expandDims(list[index++]!, 1);
        q = rotaryOp(q, cos, sin);
        k = rotaryOp(k, cos, sin);
      }
      if (withPast) {
        k = tf.concat([list[index++]!, k], 2);
        v = tf.concat([list[index++]!, v], 2);
      }
      const keys = k.shape[2]!;
      const groups = this.numHeads / this.numKeyValueHeads;
      // [batch, kvHeads, groups * seq, headDim]: query heads h*groups .. h*groups+groups-1 share kv head h.
      const grouped = tf.reshape(q, [batch, this.numKeyValueHeads, groups * seq, this.headDim]);
      if (!withPast && !this.alibiSlopes) {
        // Training and full-sequence passes: one op with a lean backward pass.
        const context = tf.reshape(attentionOp(grouped, k, v, bias, this.numHeads, this.scoreDivisors), [batch, this.numHeads, seq, this.headDim]);
        return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, seq, this.numHeads * this.headDim]);
      }
      // A few queries against many keys (a decoding step): K·Qᵀ, then transpose the small result.
      // Same dot products; q·Kᵀ with a transposed many-row operand is several times slower on wasm.
      let scores =
        groups * seq <= 8 && keys > 4 * groups * seq ? tf.transpose(tf.matMul(k, tf.transpose(grouped, [0, 1, 3, 2])), [0, 1, 3, 2]) : tf.matMul(grouped, k, false, true);
      for (const divisor of this.scoreDivisors) scores = tf.div(scores, divisor);
      scores = tf.reshape(scores, [batch, this.numHeads, seq, keys]);
      if (this.alibiSlopes) scores = tf.add(scores, alibiBias(bias, this.alibiSlopes));
      scores = tf.add(scores, bias);
      const probabilities = tf.reshape(tf.softmax(scores, -1), [batch, this.numKeyValueHeads, groups * seq, keys]);
      const context = tf.reshape(tf.matMul(probabilities, v), [batch, this.numHeads, seq, this.headDim]);
      const output = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, seq, this.numHeads * this.headDim]);
      return withPast ? [output, k, v] : output;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      numKeyValueHeads: this.numKeyValueHeads,
      headDim: this.headDim,
      scoreDivisors: this.scoreDivisors,
      fusedQkv: this.fusedQkv,
      rotary: this.rotary,
      fusedLayout: this.fusedLayout,
      alibiSlopes: this.alibiSlopes ? [...this.alibiSlopes] : null,
    };
  }
}

tf.serialization.registerClass(ScaledDotProductAttention);
