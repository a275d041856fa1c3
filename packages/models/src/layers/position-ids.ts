import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { POSITION_IDS_LAYER } from '@peftjs/core';
import { single, singleShape, type Kwargs, type Shape } from './layer-utils';

/**
 * transformers' default position ids: `arange(seq)` for every row, from any `[batch, seq, ...]`
 * input (the token embeddings, so a soft prompt prepended to them is counted). `kvCacheModel()`
 * replaces this layer's output with an explicit `position_ids` input.
 */
export class PositionIds extends layers.Layer {
  static className = 'PositionIds';
  readonly [POSITION_IDS_LAYER] = true;

  constructor(args: { name: string }) {
    super({ name: args.name, trainable: false, dtype: 'int32' });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    return [shape[0] ?? null, shape[1] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [batch, seq] = single(inputs).shape as [number, number];
      return tf.tile(tf.reshape(tf.range(0, seq, 1, 'int32'), [1, seq]), [batch, 1]);
    });
  }
}

/** `hidden[:, index]`: BERT's pooler reads the first ([CLS]) token. */
export class SelectToken extends layers.Layer {
  static className = 'SelectToken';
  readonly index: number;

  constructor(args: { name: string; index?: number }) {
    super({ name: args.name, trainable: false });
    this.index = args.index ?? 0;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    return [shape[0] ?? null, ...shape.slice(2)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const hidden = single(inputs);
      return tf.squeeze(tf.slice(hidden, [0, this.index, 0], [-1, 1, -1]), [1]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), index: this.index };
  }
}

tf.serialization.registerClass(PositionIds);
tf.serialization.registerClass(SelectToken);
