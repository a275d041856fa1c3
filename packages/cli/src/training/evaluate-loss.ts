import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { withForwardContext } from '@peftjs/core';
import { padBatch, IGNORE_INDEX, type Example } from '../data/tokenize-rows';
import { modelInputs } from '../util/load-model';

/** Runs a forward pass with the batch's per-row task ids (data rows' `"task_ids"`) where it has them. */
export function withTaskIds<T>(taskIds: readonly number[] | undefined, run: () => T): T {
  return taskIds ? withForwardContext({ taskIds }, run) : run();
}

/** Labels `[batch, seq]` left-padded with -100 to the logits' length (prompt methods prepend virtual tokens). */
export function alignLabels(labels: tf.Tensor, logitsLength: number): tf.Tensor {
  const [batch, seq] = labels.shape as [number, number];
  if (logitsLength === seq) return labels;
  return tf.concat([tf.fill([batch, logitsLength - seq], IGNORE_INDEX, 'int32'), labels], 1);
}

/**
 * Sum of the token cross-entropies and the number of tokens scored, as transformers' causal-LM
 * loss computes them (logits[:, :-1] against labels[:, 1:], -100 skipped), without the mean.
 */
export function causalLmLossParts(logits: tf.Tensor, labels: tf.Tensor): { sum: tf.Scalar; count: tf.Scalar } {
  return tf.tidy(() => {
    const [batch, seq, vocab] = logits.shape as [number, number, number];
    const aligned = alignLabels(labels, seq);
    const shiftedLogits = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, seq - 1, vocab]), [-1, vocab]);
    const shiftedLabels = tf.reshape(tf.slice(aligned, [0, 1], [batch, seq - 1]), [-1]);
    const valid = tf.notEqual(shiftedLabels, tf.scalar(IGNORE_INDEX, 'int32'));
    const safe = tf.where(valid, shiftedLabels, tf.zerosLike(shiftedLabels));
    const logProbabilities = tf.logSoftmax(shiftedLogits, -1);
    const picked = tf.sum(tf.mul(logProbabilities, tf.cast(tf.oneHot(tf.cast(safe, 'int32'), vocab), 'float32')), -1);
    const weights = tf.cast(valid, 'float32');
    return { sum: tf.neg(tf.sum(tf.mul(picked, weights))) as tf.Scalar, count: tf.sum(weights) as tf.Scalar };
  });
}

/** The mean loss of a batch (what a training step minimises). */
export function causalLmBatchLoss(
  model: LayersModel,
  batch: { inputIds: tf.Tensor; attentionMask: tf.Tensor; labels: tf.Tensor; taskIds?: readonly number[] },
  training: boolean,
): tf.Scalar {
  return tf.tidy(() => {
    const output = withTaskIds(batch.taskIds, () => model.apply(modelInputs(model, batch), { training }) as tf.Tensor | tf.Tensor[]);
    const logits = Array.isArray(output) ? output[0]! : output;
    const { sum, count } = causalLmLossParts(logits, batch.labels);
    return tf.div(sum, tf.maximum(count, 1)) as tf.Scalar;
  });
}

export interface EvalResult {
  /** Mean token cross-entropy over every predicted token of the data set. */
  loss: number;
  /** exp(loss), as transformers' run_clm reports it. */
  perplexity: number;
  /** Tokens scored. */
  tokens: number;
}

/** Mean token cross-entropy and perplexity over examples, in batches. */
export async function evaluateCausalLm(model: LayersModel, examples: readonly Example[], options: { batchSize: number; padTokenId: number }): Promise<EvalResult> {
  let total = 0;
  let tokens = 0;
  for (let start = 0; start < examples.length; start += options.batchSize) {
    const padded = padBatch(examples.slice(start, start + options.batchSize), options.padTokenId);
    const parts = tf.tidy(() => {
      const inputIds = tf.tensor2d(padded.inputIds, undefined, 'int32');
      const attentionMask = tf.tensor2d(padded.attentionMask, undefined, 'float32');
      const labels = tf.tensor2d(padded.labels, undefined, 'int32');
      const output = withTaskIds(padded.taskIds, () => model.apply(modelInputs(model, { inputIds, attentionMask }), { training: false }) as tf.Tensor | tf.Tensor[]);
      const { sum, count } = causalLmLossParts(Array.isArray(output) ? output[0]! : output, labels);
      return tf.stack([sum, count]);
    });
    const [sum, count] = await parts.data();
    parts.dispose();
    total += sum!;
    tokens += count!;
  }
  const loss = tokens > 0 ? total / tokens : Number.NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}
