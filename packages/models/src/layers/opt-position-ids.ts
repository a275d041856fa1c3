import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { single, singleShape, type Kwargs, type Shape } from './layer-utils';

/**
 * OPT's learned-position indices, `(cumsum(attention_mask) * attention_mask - 1) + offset`
 * (offset 2), for the new positions only, read from the causal mask bias
 * (`AttentionMaskBias`, `[batch, 1, queries, keys]`, 0 = attend): a query's position is the
 * number of keys it may attend to, minus one, and a masked (padding) query gets -1. Reading the
 * bias rather than the mask keeps the count right wherever the keys are: past keys in
 * generation, and keys a PEFT method prepends (its ones in the extended mask count, as in PEFT).
 * Output: int32 `[batch, queries]`, the rows of `embed_positions` to use.
 */
export class OPTPositionIds extends layers.Layer {
  static className = 'OPTPositionIds';
  readonly offset: number;

  constructor(args: { name: string; offset?: number }) {
    super({ name: args.name, trainable: false, dtype: 'int32' });
    this.offset = args.offset ?? 2;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    return [shape[0] ?? null, shape[2] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const bias = single(inputs);
      const [batch, , queries, keys] = bias.shape as [number, number, number, number];
      const allowed = tf.reshape(tf.cast(tf.equal(bias, 0), 'int32'), [batch, queries, keys]);
      const counts = tf.sum(allowed, -1);
      // Whether each query attends to itself (its own key sits at keys - queries + i): 0 for padding.
      const diagonal = tf.oneHot(tf.range(keys - queries, keys, 1, 'int32'), keys, 1, 0, 'int32');
      const self = tf.sum(tf.mul(allowed, tf.expandDims(diagonal, 0)), -1);
      return tf.add(tf.sub(tf.mul(self, counts), 1), this.offset);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), offset: this.offset };
  }
}

tf.serialization.registerClass(OPTPositionIds);
