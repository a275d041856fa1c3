import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { ATTENTION_MASK_LAYER } from '@peftjs/core';
import { FLOAT32_MIN, shapeList, tensorList, type Kwargs, type Shape } from './layer-utils';

export interface AttentionMaskArgs {
  name: string;
  /** Each query sees only keys at or before its own position (decoders). */
  causal: boolean;
  /** Mistral's sliding window: a query at position i sees keys j > i - window. */
  slidingWindow?: number | null;
}

/**
 * The additive attention bias, as transformers' eager attention builds it: inputs
 * `[attention_mask [batch, keys], hidden [batch, queries, ...]]` → `[batch, 1, queries, keys]`
 * (`[batch, 1, 1, keys]` when not causal) holding 0 where a query may attend and the float32
 * minimum where it may not. The keys are the past (`keys - queries` of them) then the queries.
 * Not causal, the keys may be any sequence's: an encoder-decoder's cross-attention uses the
 * encoder's `attention_mask` with the decoder's hidden states.
 */
export class AttentionMaskBias extends layers.Layer {
  static className = 'AttentionMaskBias';
  readonly [ATTENTION_MASK_LAYER] = true;
  readonly causal: boolean;
  readonly slidingWindow: number | null;

  constructor(args: AttentionMaskArgs) {
    super({ name: args.name, trainable: false });
    this.causal = args.causal;
    this.slidingWindow = args.slidingWindow ?? null;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [mask, hidden] = shapeList(inputShape);
    return [mask![0] ?? null, 1, this.causal ? (hidden![1] ?? null) : 1, mask![1] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [mask, hidden] = tensorList(inputs);
      const [batch, keys] = mask!.shape as [number, number];
      const queries = hidden!.shape[1]!;
      // Not causal, the keys may be another sequence's (cross-attention over an encoder's output).
      if (this.causal && keys < queries) {
        throw new Error(`${this.name}: attention_mask covers ${keys} positions but the input has ${queries}; it must cover the past and the new positions`);
      }
      let allowed = tf.reshape(tf.notEqual(mask!, tf.scalar(0, mask!.dtype)), [batch, 1, 1, keys]);
      if (this.causal) {
        const past = keys - queries;
        const keyPositions = tf.reshape(tf.range(0, keys, 1, 'int32'), [1, 1, 1, keys]);
        const queryPositions = tf.reshape(tf.range(past, past + queries, 1, 'int32'), [1, 1, queries, 1]);
        let visible = tf.lessEqual(keyPositions, queryPositions);
        if (this.slidingWindow !== null) visible = tf.logicalAnd(visible, tf.greater(keyPositions, tf.sub(queryPositions, this.slidingWindow)));
        allowed = tf.logicalAnd(allowed, visible);
      }
      return tf.where(allowed, tf.zeros(allowed.shape, 'float32'), tf.fill(allowed.shape, FLOAT32_MIN, 'float32'));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), causal: this.causal, slidingWindow: this.slidingWindow };
  }
}

tf.serialization.registerClass(AttentionMaskBias);
