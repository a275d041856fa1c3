import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { withForwardContext } from '@peftjs/core';
import { TrainingArgumentsError } from './errors';
import { IGNORE_INDEX, type CollatedBatch } from './training-example';

/** The batch as tensors, by the model's input names (position ids, when taken, count from 0). */
export function modelInputs(model: LayersModel, batch: { inputIds: tf.Tensor; attentionMask: tf.Tensor }): tf.Tensor[] {
  return model.inputNames.map((name) => {
    if (name.startsWith('input_ids')) return batch.inputIds;
    if (name.startsWith('attention_mask')) return batch.attentionMask;
    if (name.startsWith('token_type_ids')) return tf.zerosLike(batch.inputIds);
    if (name.startsWith('position_ids')) {
      const [rows, length] = batch.inputIds.shape as [number, number];
      return tf.tile(tf.expandDims(tf.range(0, length, 1, 'int32'), 0), [rows, 1]);
    }
    throw new TrainingArgumentsError(
      `the model takes an input named "${name}" that causal-LM training cannot fill (it fills input_ids, attention_mask, token_type_ids, position_ids); pass computeLoss`,
      { field: 'compute_loss' },
    );
  });
}

/**
 * transformers' causal-LM loss: `logits[:, :-1]` scored against `labels[:, 1:]`, one token mean
 * over every label that is not -100. Labels shorter than the logits are left-padded with -100
 * (PEFT's prompt tuning and P-tuning prepend virtual tokens), so the last virtual position
 * predicts the first real token.
 */
export function causalLmLoss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq, vocab] = logits.shape as [number, number, number];
    const extra = seq - labels.shape[1]!;
    const aligned = extra > 0 ? tf.concat([tf.fill([batch, extra], IGNORE_INDEX, 'int32'), labels], 1) : labels;
    const shiftedLogits = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, seq - 1, vocab]), [-1, vocab]);
    const shiftedLabels = tf.reshape(tf.slice(aligned, [0, 1], [batch, seq - 1]), [-1]);
    const valid = tf.notEqual(shiftedLabels, tf.scalar(IGNORE_INDEX, 'int32'));
    const safe = tf.where(valid, shiftedLabels, tf.zerosLike(shiftedLabels));
    // oneHot is made int32 and cast: wasm's OneHot ignores a float32 dtype.
    const picked = tf.sum(tf.mul(tf.logSoftmax(shiftedLogits, -1), tf.cast(tf.oneHot(tf.cast(safe, 'int32'), vocab), 'float32')), -1);
    const weights = tf.cast(valid, 'float32');
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.sum(weights)) as tf.Scalar;
  });
}

/** Computes a micro-batch's loss (a scalar the gradient is taken of). */
export type ComputeLoss = (model: LayersModel, batch: CollatedBatch, options: { training: boolean }) => tf.Scalar;

/** The default: the model's causal-LM loss on the padded batch, per-row task ids in the forward context. */
export const causalLmBatchLoss: ComputeLoss = (model, batch, options) =>
  tf.tidy(() => {
    const inputIds = tf.tensor2d(batch.inputIds, undefined, 'int32');
    const attentionMask = tf.tensor2d(batch.attentionMask, undefined, 'float32');
    const labels = tf.tensor2d(batch.labels, undefined, 'int32');
    const run = () => model.apply(modelInputs(model, { inputIds, attentionMask }), { training: options.training }) as tf.Tensor | tf.Tensor[];
    const output = batch.taskIds ? withForwardContext({ taskIds: batch.taskIds }, run) : run();
    return causalLmLoss(Array.isArray(output) ? output[0]! : output, labels);
  });
