import * as tf from '@tensorflow/tfjs-core';
import type { ProblemType } from '../architectures/bert';

/** transformers' (and torch's) ignore index: labels of -100 are not scored. */
export const IGNORE_INDEX = -100;

/** Mean cross-entropy of `logits [n, vocab]` against `labels [n]`, skipping IGNORE_INDEX (torch's CrossEntropyLoss, reduction mean). */
function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[1];
    const ids = tf.cast(labels, 'int32');
    const valid = tf.notEqual(ids, tf.scalar(IGNORE_INDEX, 'int32'));
    const safe = tf.where(valid, ids, tf.zerosLike(ids));
    const logProbabilities = tf.logSoftmax(logits, -1);
    // oneHot is int32 then cast: the wasm backend's OneHot ignores a float32 dtype (writes int bits).
    const picked = tf.sum(tf.mul(logProbabilities, tf.cast(tf.oneHot(safe, vocab), 'float32')), -1);
    const weights = tf.cast(valid, 'float32');
    // Like torch, all labels ignored gives 0 / 0 = NaN.
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.sum(weights)) as tf.Scalar;
  });
}

/**
 * The causal-LM loss transformers computes for `model(input_ids, labels=labels)`:
 * `logits[:, :-1]` are scored against `labels[:, 1:]` and the mean is taken over labels that are
 * not -100. The argument order is tfjs's `(yTrue, yPred)`, so it works as a `compile()` loss.
 */
export function causalLmLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq, vocab] = logits.shape as [number, number, number];
    if (labels.shape[0] !== batch || labels.shape[1] !== seq) {
      throw new Error(`causalLmLoss: labels have shape [${labels.shape.join(', ')}], logits [${logits.shape.join(', ')}]; labels must be [batch, seq]`);
    }
    const shiftedLogits = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, seq - 1, vocab]), [batch * (seq - 1), vocab]) as tf.Tensor2D;
    const shiftedLabels = tf.reshape(tf.slice(labels, [0, 1], [batch, seq - 1]), [batch * (seq - 1)]) as tf.Tensor1D;
    return crossEntropy(shiftedLogits, shiftedLabels);
  });
}

/** Token classification (BertForTokenClassification): cross-entropy per token, -100 ignored, no shift. */
export function tokenClassificationLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1]!;
    return crossEntropy(tf.reshape(logits, [-1, classes]) as tf.Tensor2D, tf.reshape(labels, [-1]) as tf.Tensor1D);
  });
}

/**
 * BertForSequenceClassification's loss, with transformers' `problem_type` rule when none is
 * given: one label → regression (MSE); integer labels → single-label cross-entropy; otherwise
 * multi-label (binary cross-entropy with logits).
 */
export function sequenceClassificationLoss(labels: tf.Tensor, logits: tf.Tensor, options: { problemType?: ProblemType | null } = {}): tf.Scalar {
  return tf.tidy(() => {
    const numLabels = logits.shape[logits.rank - 1]!;
    const problemType = options.problemType ?? (numLabels === 1 ? 'regression' : labels.dtype === 'int32' ? 'single_label_classification' : 'multi_label_classification');
    if (problemType === 'regression') {
      const predictions = numLabels === 1 ? tf.reshape(logits, [-1]) : logits;
      const targets = numLabels === 1 ? tf.reshape(tf.cast(labels, 'float32'), [-1]) : tf.cast(labels, 'float32');
      return tf.mean(tf.squaredDifference(predictions, targets)) as tf.Scalar;
    }
    if (problemType === 'single_label_classification') {
      return crossEntropy(tf.reshape(logits, [-1, numLabels]) as tf.Tensor2D, tf.reshape(labels, [-1]) as tf.Tensor1D);
    }
    // BCEWithLogits: max(x, 0) - x z + log(1 + exp(-|x|)), averaged.
    const z = tf.cast(labels, 'float32');
    const perElement = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, z)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    return tf.mean(perElement) as tf.Scalar;
  });
}

/** A `compile()` loss for sequence classification with a fixed problem type. */
export function createSequenceClassificationLoss(problemType: ProblemType | null = null): (labels: tf.Tensor, logits: tf.Tensor) => tf.Scalar {
  return (labels, logits) => sequenceClassificationLoss(labels, logits, { problemType });
}

/**
 * The seq2seq LM loss transformers computes for `model(input_ids, labels=labels)` on T5-style
 * encoder-decoders: the decoder logits `[batch, dec_len, vocab]` are scored against `labels`
 * `[batch, dec_len]` position by position (no shift: the decoder input is already the labels
 * shifted right, see `shiftTokensRight`), mean over labels that are not -100. Argument order
 * `(labels, logits)`, as a `compile()` loss.
 */
export function seq2seqLmLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq, vocab] = logits.shape as [number, number, number];
    if (labels.shape[0] !== batch || labels.shape[1] !== seq) {
      throw new Error(`seq2seqLmLoss: labels have shape [${labels.shape.join(', ')}], logits [${logits.shape.join(', ')}]; labels must be [batch, dec_len]`);
    }
    return crossEntropy(tf.reshape(logits, [batch * seq, vocab]) as tf.Tensor2D, tf.reshape(labels, [batch * seq]) as tf.Tensor1D);
  });
}

/**
 * transformers' `_shift_right` for T5: `decoder_input_ids = [decoder_start_token_id] + labels[:, :-1]`,
 * with -100 replaced by `padTokenId`. Returns int32 `[batch, dec_len]`.
 */
export function shiftTokensRight(labels: tf.Tensor | number[][], decoderStartTokenId: number, padTokenId: number): tf.Tensor2D {
  return tf.tidy(() => {
    const ids = tf.cast(Array.isArray(labels) ? tf.tensor2d(labels, undefined, 'int32') : labels, 'int32');
    const [batch, seq] = ids.shape as [number, number];
    const shifted = tf.concat([tf.fill([batch, 1], decoderStartTokenId, 'int32'), tf.slice(ids, [0, 0], [batch, seq - 1])], 1);
    return tf.where(tf.equal(shifted, IGNORE_INDEX), tf.fill([batch, seq], padTokenId, 'int32'), shifted) as tf.Tensor2D;
  });
}
