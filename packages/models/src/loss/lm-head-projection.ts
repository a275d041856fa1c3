import * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';

/**
 * A frozen output head as the chunked cross-entropy needs it: logits for some hidden rows, and
 * the gradient of those rows given the logits' gradient. Any head whose weights do not train can
 * supply one (a tfjs weight tensor, or a weight kept outside the tensor heap).
 */
export interface LmHeadProjection {
  /** The vocabulary size (columns of `logits`). */
  readonly vocabSize: number;
  /** `rows [n, hidden]` → `logits [n, vocab]`. */
  logits(rows: tf.Tensor2D): tf.Tensor2D;
  /** `dLogits [n, vocab]` → `dRows [n, hidden]` (the head is linear in its input). */
  inputGradient(dLogits: tf.Tensor2D): tf.Tensor2D;
}

/**
 * A head from a weight tensor: `'vocab-major'` is torch's `[vocab, hidden]` (a tied embedding
 * matrix), `'hidden-major'` is a tfjs Dense kernel `[hidden, vocab]`. The optional bias is `[vocab]`.
 */
export function weightProjection(weight: tf.Tensor, layout: 'vocab-major' | 'hidden-major', bias?: tf.Tensor | null): LmHeadProjection {
  const vocabMajor = layout === 'vocab-major';
  return {
    vocabSize: weight.shape[vocabMajor ? 0 : 1]!,
    logits: (rows) => {
      const logits: tf.Tensor2D = tf.matMul(rows, weight as tf.Tensor2D, false, vocabMajor);
      return bias ? (tf.add(logits, bias) as tf.Tensor2D) : logits;
    },
    inputGradient: (dLogits) => tf.matMul(dLogits, weight as tf.Tensor2D, false, !vocabMajor),
  };
}

/**
 * The projection of an output layer: its own `projection()` when it has one, else that of a
 * Linear `lm_head` or a TiedLMHead built by @peftjs/models; null when the layer is something else or any of its weights trains (then the loss takes the
 * usual path through full logits, so those weights get their gradients).
 */
export function layerProjection(layer: layers.Layer): LmHeadProjection | null {
  const embeddingLayer = (layer as layers.Layer & { embeddingLayer?: layers.Layer }).embeddingLayer;
  if (layer.trainableWeights.length > 0 || (embeddingLayer && embeddingLayer.trainableWeights.length > 0)) return null;
  // A head that knows its own projection (a head over the frozen-weight store, say).
  const own = (layer as layers.Layer & { projection?: () => LmHeadProjection }).projection;
  if (typeof own === 'function') return own.call(layer);
  const className = layer.getClassName();
  if (className === 'TiedLMHead') {
    const embedding = (layer as layers.Layer & { embeddingLayer?: layers.Layer }).embeddingLayer?.weights[0];
    if (!embedding || embedding.trainable) return null;
    return weightProjection(embedding.read(), 'vocab-major');
  }
  if (className === 'Dense' && layer.weights.length >= 1 && layer.weights.length <= 2) {
    if (layer.weights.some((weight) => weight.trainable)) return null;
    const activation = (layer.getConfig() as { activation?: string }).activation;
    if (activation !== undefined && activation !== 'linear') return null;
    const [kernel, bias] = layer.weights;
    return weightProjection(kernel!.read(), 'hidden-major', bias?.read());
  }
  return null;
}
