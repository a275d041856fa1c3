import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, NativeFusedKernel, runFusedKernel } from '../layers/fused/native-fused-kernels';
import { IGNORE_INDEX } from './losses';
import type { LmHeadProjection } from './lm-head-projection';

export interface ChunkedCrossEntropyOptions {
  /**
   * Rows scored at once. Default: `lossChunkRows(vocab)`. The full `[rows, vocab]` logits and
   * their gradient never exist at once (at most two chunk-sized tensors are alive at a time).
   */
  chunkRows?: number;
}

const DEFAULT_CHUNK_VALUES = 1 << 22;
/**
 * Each chunk's two products re-read the whole head, so a thin chunk is bound by memory, not
 * arithmetic: on Qwen2's 151 936-word head, 27-row chunks (4 M values) ran the loss at 43 GFLOP/s
 * and 256-row chunks at 86 (bench/scale/loss-chunk.ts).
 */
const MIN_CHUNK_ROWS = 256;

/** The rows the chunked cross-entropy scores at once by default: ≥ 256, and ≥ 4 M logits. */
export function lossChunkRows(vocab: number): number {
  return Math.max(MIN_CHUNK_ROWS, Math.floor(DEFAULT_CHUNK_VALUES / Math.max(1, vocab)));
}

/**
 * Mean cross-entropy of `head(rows)` against `labels`, skipping IGNORE_INDEX, computed chunk by
 * chunk: each chunk's logits are made, scored and turned into their gradient right away (softmax
 * minus one-hot, over the count of scored labels), then projected back to the rows, so only
 * `[rows, hidden]` is kept for the backward pass. Same value and gradient as `logSoftmax` over
 * full logits (Liger-Kernel's and Cut Cross-Entropy's approach). The head's weights get no
 * gradient: use it for frozen heads.
 *
 * The gradient is computed in the forward pass only while a gradient is being recorded.
 */
export function chunkedCrossEntropy(rows: tf.Tensor2D, labels: tf.Tensor1D, head: LmHeadProjection, options: ChunkedCrossEntropyOptions = {}): tf.Scalar {
  const [count] = rows.shape;
  if (labels.shape[0] !== count) throw new Error(`chunkedCrossEntropy: ${count} rows but ${labels.shape[0]} labels`);
  const vocab = head.vocabSize;
  const chunkRows = Math.max(1, Math.floor(options.chunkRows ?? lossChunkRows(vocab)));
  const recording = (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
  const ids = tf.tidy(() => tf.cast(labels, 'int32'));
  const valid = tf.tidy(() => tf.cast(tf.notEqual(ids, tf.scalar(IGNORE_INDEX, 'int32')), 'float32'));
  // Like torch, all labels ignored gives 0 / 0 = NaN.
  const scored = tf.sum(valid);

  // Loss and row gradient are computed first with recording paused (nothing of the chunks goes on
  // the tape), then attached to `rows` as one op whose gradient is the precomputed one.
  const engineState = (tf.engine() as unknown as { state: { kernelDepth: number } }).state;
  engineState.kernelDepth++;
  let value: tf.Scalar;
  let inputGradient: tf.Tensor | undefined;
  try {
    let total: tf.Tensor = tf.scalar(0);
    const rowGradients: tf.Tensor[] = [];
    for (let start = 0; start < count; start += chunkRows) {
      const size = Math.min(chunkRows, count - start);
      const [lossSum, rowGradient] = tf.tidy((): [tf.Tensor, tf.Tensor | undefined] => {
        const chunk = tf.slice(rows, [start, 0], [size, -1]) as tf.Tensor2D;
        const chunkValid = tf.slice(valid, [start], [size]);
        const safe = tf.where(tf.cast(chunkValid, 'bool'), tf.slice(ids, [start], [size]), tf.zerosLike(tf.slice(ids, [start], [size])));
        // Each [size, vocab] tensor is freed as soon as the next one exists: the wasm heap keeps
        // its high-water mark, so at most two of them are alive at once.
        const logits = head.logits(chunk);
        if (hasFusedKernel(NativeFusedKernel.crossEntropy, logits)) {
          // One native pass per row: log-sum-exp, the label's logit and (softmax − one-hot)·weight.
          const weights = tf.div(chunkValid, scored);
          const [perRow, dLogits] = runFusedKernel(NativeFusedKernel.crossEntropy, { logits, labels: safe, weights }, { withGradient: recording }) as tf.Tensor[];
          const lossSum = tf.sum(tf.mul(perRow!, chunkValid));
          return [lossSum, dLogits ? head.inputGradient(dLogits as tf.Tensor2D) : undefined];
        }
        const maximum = tf.max(logits, -1, true);
        const shifted = tf.sub(logits, maximum);
        logits.dispose();
        const exponentials = tf.exp(shifted);
        const sums = tf.sum(exponentials, -1, true);
        // logsumexp − the label's logit, both measured from the row's maximum.
        const flatIndex = tf.add(tf.mul(tf.range(0, size, 1, 'int32'), tf.scalar(vocab, 'int32')), safe);
        const picked = tf.gather(tf.reshape(shifted, [-1]), flatIndex);
        shifted.dispose();
        const perRow = tf.sub(tf.reshape(tf.log(sums), [-1]), picked);
        const lossSum = tf.sum(tf.mul(perRow, chunkValid));
        if (!recording) return [lossSum, undefined];
        const weights = tf.reshape(tf.div(chunkValid, scored), [size, 1]);
        const probabilities = tf.div(exponentials, sums);
        exponentials.dispose();
        const labelMask = tf.oneHot(safe, vocab);
        const oneHot = tf.cast(labelMask, 'float32');
        labelMask.dispose();
        const difference = tf.sub(probabilities, oneHot);
        tf.dispose([probabilities, oneHot]);
        const dLogits = tf.mul(difference, weights) as tf.Tensor2D;
        difference.dispose();
        return [lossSum, head.inputGradient(dLogits)];
      });
      const next = tf.add(total, lossSum);
      tf.dispose([total, lossSum]);
      total = next;
      if (rowGradient) rowGradients.push(rowGradient);
    }
    value = tf.div(total, scored) as tf.Scalar;
    total.dispose();
    if (recording) {
      inputGradient = rowGradients.length === 1 ? rowGradients[0]! : tf.concat(rowGradients, 0);
      if (rowGradients.length > 1) tf.dispose(rowGradients);
    }
  } finally {
    engineState.kernelDepth--;
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[1] as tf.GradSaveFunc;
    if (inputGradient) save([inputGradient]);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0]!, dy) };
  });
  try {
    return op(rows) as tf.Scalar;
  } finally {
    tf.dispose([ids, valid, scored]);
    inputGradient?.dispose();
  }
}
