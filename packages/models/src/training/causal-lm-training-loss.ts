import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { chunkedCrossEntropy } from '../loss/chunked-cross-entropy';
import { layerProjection, type LmHeadProjection } from '../loss/lm-head-projection';
import { causalLmLoss, IGNORE_INDEX } from '../loss/losses';
import { isGradientCheckpointingEnabled } from './gradient-checkpointing';
import { runModelGraph } from './run-model-graph';

export interface CausalLmTrainingLossOptions {
  /** Passed to the layers as `training` (default true). */
  training?: boolean;
  /** Recompute each decoder layer in the backward pass (default: the model's `setGradientCheckpointing` setting). */
  gradientCheckpointing?: boolean;
  /**
   * The frozen output head to score with. Default: the model's own `lm_head` when its weights do
   * not train; with no usable head the loss is taken over full logits.
   */
  head?: LmHeadProjection;
  /** Rows per chunk of the chunked cross-entropy (see `chunkedCrossEntropy`). */
  chunkRows?: number;
}

/**
 * The head layer's input when the model ends in one head layer whose weights do not train;
 * otherwise null.
 */
function frozenHead(model: LayersModel, override: LmHeadProjection | undefined): { hidden: SymbolicTensor; projection: LmHeadProjection } | null {
  if (model.outputs.length !== 1) return null;
  const output = model.outputs[0]!;
  const node = output.sourceLayer.inboundNodes[output.nodeIndex];
  if (node?.inputTensors.length !== 1) return null;
  const projection = override ?? layerProjection(output.sourceLayer);
  return projection ? { hidden: node.inputTensors[0]!, projection } : null;
}

/**
 * The causal-LM training loss of a batch, as `causalLmLoss(labels, model.apply(inputs))` computes
 * it (logits[:, :-1] against labels[:, 1:], -100 skipped, mean), in bounded memory: with a frozen
 * head the vocabulary-sized logits are scored in chunks (`chunkedCrossEntropy`), and with gradient
 * checkpointing each decoder layer keeps only its input for the backward pass. Labels shorter
 * than the sequence (prompt methods prepend virtual tokens) are left-padded with -100.
 *
 * `inputs` are the model's inputs in order (`[input_ids, attention_mask]` for the decoders here).
 */
export function causalLmTrainingLoss(model: LayersModel, inputs: readonly tf.Tensor[], labels: tf.Tensor, options: CausalLmTrainingLossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const graphOptions = { training: options.training ?? true, gradientCheckpointing: options.gradientCheckpointing ?? isGradientCheckpointingEnabled(model) };
    const head = frozenHead(model, options.head);
    const [output] = runModelGraph(model, inputs, { ...graphOptions, outputs: head ? [head.hidden] : undefined });
    const [batch, seq] = output!.shape as [number, number];
    const [labelBatch, labelSeq] = labels.shape as [number, number];
    if (labels.rank !== 2 || labelBatch !== batch || labelSeq > seq) {
      throw new Error(`causalLmTrainingLoss: labels have shape [${labels.shape.join(', ')}], the model's sequence is [${batch}, ${seq}]; labels must be [batch, seq]`);
    }
    const aligned = labelSeq === seq ? labels : tf.concat([tf.fill([batch, seq - labelSeq], IGNORE_INDEX, 'int32'), tf.cast(labels, 'int32')], 1);
    if (!head) return causalLmLoss(aligned, output!);
    const size = output!.shape[2]!;
    const rows = tf.reshape(tf.slice(output!, [0, 0, 0], [batch, seq - 1, size]), [batch * (seq - 1), size]) as tf.Tensor2D;
    const targets = tf.reshape(tf.slice(aligned, [0, 1], [batch, seq - 1]), [batch * (seq - 1)]) as tf.Tensor1D;
    return chunkedCrossEntropy(rows, targets, head.projection, { chunkRows: options.chunkRows });
  });
}
