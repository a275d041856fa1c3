import * as tf from '@tensorflow/tfjs-core';
import { withForwardContext } from '@peftjs/core';
import { causalLmTrainingLoss } from '@peftjs/models';
import { modelInputs, type ComputeLoss } from '@peftjs/trainer';

/**
 * The trainer's causal-LM loss computed by `causalLmTrainingLoss`: the same number, without the
 * full `[batch·seq, vocab]` logits or their gradient, and with gradient checkpointing when asked.
 */
export function boundedMemoryLoss(options: { gradientCheckpointing?: boolean }): ComputeLoss {
  return (model, batch, { training }) =>
    tf.tidy(() => {
      const inputIds = tf.tensor2d(batch.inputIds, undefined, 'int32');
      const attentionMask = tf.tensor2d(batch.attentionMask, undefined, 'float32');
      const labels = tf.tensor2d(batch.labels, undefined, 'int32');
      const run = () =>
        causalLmTrainingLoss(model, modelInputs(model, { inputIds, attentionMask }), labels, {
          training,
          gradientCheckpointing: training && options.gradientCheckpointing === true,
        });
      return batch.taskIds ? withForwardContext({ taskIds: batch.taskIds }, run) : run();
    });
}
