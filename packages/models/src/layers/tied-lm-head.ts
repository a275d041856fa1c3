import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { single, singleShape, type Kwargs, type Shape } from './layer-utils';

/**
 * An output head that shares the token embedding matrix (`tie_word_embeddings`):
 * `logits = hidden · Eᵀ`. It owns no weights, so the embedding is counted and trained once;
 * transformers' `lm_head.weight` is the same tensor as the embedding's, and is not saved.
 */
export class TiedLMHead extends layers.Layer {
  static className = 'TiedLMHead';
  /** The layer whose `embeddings` weight is shared (a tfjs Embedding). */
  embeddingLayer: layers.Layer | undefined;
  readonly tiedTo: string;

  constructor(args: { name: string; embedding?: layers.Layer; tiedTo?: string }) {
    super({ name: args.name, trainable: true });
    this.embeddingLayer = args.embedding;
    this.tiedTo = args.embedding?.name ?? args.tiedTo ?? '';
  }

  private matrix(): tf.Tensor {
    const variable = this.embeddingLayer?.weights[0];
    if (!variable) {
      throw new Error(`${this.name}: tied to "${this.tiedTo}", but that embedding layer is not attached; rebuild the model with @peftjs/models instead of deserializing it`);
    }
    return variable.read();
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    const vocab = this.embeddingLayer?.weights[0]?.shape[0] ?? null;
    return [...shape.slice(0, -1), vocab];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const hidden = single(inputs);
      const embeddings = this.matrix();
      const size = hidden.shape[hidden.rank - 1]!;
      const flat = tf.reshape(hidden, [-1, size]);
      const logits = tf.matMul(flat, embeddings, false, true);
      return tf.reshape(logits, [...hidden.shape.slice(0, -1), embeddings.shape[0]!]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), tiedTo: this.tiedTo };
  }
}

tf.serialization.registerClass(TiedLMHead);
