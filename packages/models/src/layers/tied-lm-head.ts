import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { single, singleShape, type Kwargs, type Shape } from './layer-utils';
import { frozenMatMul } from '../frozen/frozen-ops';
import { storedWeightOf } from '../frozen/frozen-layers';
import type { ModulesToSaveCopySource } from '@peftjs/core';
import { Linear } from './linear';

/**
 * An output head as a function of hidden rows: what a chunked loss calls per chunk. `logits`
 * maps `[rows, hidden]` to `[rows, vocab]` and is differentiable in its input (the weight gets no
 * gradient when it is stored); `inputGradient` is `dLogits·E` for callers that run the backward
 * themselves. Neither keeps anything beyond the call.
 */
export interface HeadProjection {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  logits(hidden: tf.Tensor2D): tf.Tensor2D;
  inputGradient(dLogits: tf.Tensor2D): tf.Tensor2D;
}

/**
 * An output head that shares the token embedding matrix (`tie_word_embeddings`):
 * `logits = hidden · Eᵀ`. It owns no weights, so the embedding is counted and trained once;
 * transformers' `lm_head.weight` is the same tensor as the embedding's, and is not saved.
 */
export class TiedLMHead extends layers.Layer implements ModulesToSaveCopySource {
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

  /** The head as a projection of hidden rows (store-backed when the embedding is). */
  projection(): HeadProjection {
    const stored = this.embeddingLayer ? storedWeightOf(this.embeddingLayer) : undefined;
    if (stored) {
      return {
        vocabSize: stored.rows,
        hiddenSize: stored.cols,
        logits: (hidden) => frozenMatMul(hidden, stored, true) as tf.Tensor2D,
        inputGradient: (dLogits) => tf.tidy(() => frozenMatMul(dLogits, stored, false) as tf.Tensor2D),
      };
    }
    const variable = this.embeddingLayer?.weights[0];
    if (!variable) this.matrix();
    return {
      vocabSize: variable!.shape[0]!,
      hiddenSize: variable!.shape[1]!,
      logits: (hidden) => tf.matMul(hidden, variable!.read() as tf.Tensor2D, false, true),
      inputGradient: (dLogits) => tf.matMul(dLogits, variable!.read() as tf.Tensor2D),
    };
  }

  /**
   * The trainable copy `modules_to_save: ["lm_head"]` trains: a Linear head with its own weight,
   * starting from the embedding matrix, as PEFT's deepcopy of a tied head unties it. It saves as
   * `lm_head.weight` `[vocab, hidden]`; the embedding and this head stay as they were.
   */
  modulesToSaveCopy(name: string): layers.Layer {
    const embedding = this.embeddingLayer?.weights[0];
    if (!embedding) this.matrix();
    const [vocabSize, hiddenSize] = embedding!.shape as [number, number];
    const head = new Linear({ name, units: vocabSize, useBias: false });
    head.build([null, hiddenSize]);
    // A store-backed embedding reads as a new tensor, a variable as its own; tidy keeps the variable.
    const kernel = tf.tidy(() => tf.transpose(embedding!.read()));
    head.setWeights([kernel]);
    kernel.dispose();
    return head;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    const vocab = this.embeddingLayer?.weights[0]?.shape[0] ?? null;
    return [...shape.slice(0, -1), vocab];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const hidden = single(inputs);
      const stored = this.embeddingLayer ? storedWeightOf(this.embeddingLayer) : undefined;
      if (stored) return frozenMatMul(hidden, stored, true);
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
