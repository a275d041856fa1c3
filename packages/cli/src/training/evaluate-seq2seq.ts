import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { seq2seqLmLoss, shiftTokensRight } from '@peftjs/models';
import type { DataRow } from '../data/read-rows';
import { IGNORE_INDEX } from '../data/tokenize-rows';
import { modelInputs } from '../util/load-model';
import { UsageError } from '../util/usage-error';
import type { EvalResult } from './evaluate-loss';

/** One encoder-decoder example: the encoder's ids and the target ids. */
export interface Seq2SeqExample {
  inputIds: number[];
  labels: number[];
}

function ids(value: unknown, field: string, where: string, vocabSize: number | undefined, allowIgnore: boolean): number[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((id) => Number.isInteger(id) && ((id as number) >= 0 || (allowIgnore && id === IGNORE_INDEX)))) {
    throw new UsageError(`${where}: ${field} must be a non-empty array of non-negative integers${allowIgnore ? ' (or -100)' : ''}`);
  }
  const bad = vocabSize === undefined ? undefined : (value as number[]).find((id) => id >= vocabSize);
  if (bad !== undefined) throw new UsageError(`${where}: ${field} has token id ${bad}, outside the model's vocabulary (vocab_size ${vocabSize})`);
  return value as number[];
}

/** `{"input_ids": [...], "labels": [...]}` rows (any lengths) as examples, truncated to `maxLength`. */
export function seq2seqExamples(rows: readonly DataRow[], options: { source: string; maxLength: number; vocabSize?: number }): Seq2SeqExample[] {
  return rows.map((row, index) => {
    const where = `${options.source} row ${index + 1}`;
    if (!Array.isArray(row.input_ids) || !Array.isArray(row.labels)) {
      throw new UsageError(
        `${where}: an encoder-decoder scores {"input_ids": [...], "labels": [...]} rows; it has ${
          Object.keys(row)
            .map((key) => `"${key}"`)
            .join(', ') || 'no fields'
        }`,
      );
    }
    return {
      inputIds: ids(row.input_ids, 'input_ids', where, options.vocabSize, false).slice(0, options.maxLength),
      labels: ids(row.labels, 'labels', where, options.vocabSize, true).slice(0, options.maxLength),
    };
  });
}

/**
 * Mean token cross-entropy over every label token of every row, as the seq2seq fixtures average
 * it: each row's `decoder_input_ids` = `shift_right(labels)`; rows are right-padded in a batch
 * (encoder padding masked, label padding -100, which a causal decoder never sees earlier).
 */
export async function evaluateSeq2SeqLm(
  model: LayersModel,
  examples: readonly Seq2SeqExample[],
  options: { batchSize: number; padTokenId: number; decoderStartTokenId: number },
): Promise<EvalResult> {
  let total = 0;
  let tokens = 0;
  for (let start = 0; start < examples.length; start += options.batchSize) {
    const batch = examples.slice(start, start + options.batchSize);
    const inputLength = Math.max(...batch.map((example) => example.inputIds.length));
    const labelLength = Math.max(...batch.map((example) => example.labels.length));
    const pad = (row: number[], length: number, value: number) => [...row, ...new Array<number>(length - row.length).fill(value)];
    const parts = tf.tidy(() => {
      const inputIds = tf.tensor2d(
        batch.map((example) => pad(example.inputIds, inputLength, options.padTokenId)),
        undefined,
        'int32',
      );
      const attentionMask = tf.tensor2d(
        batch.map((example) =>
          pad(
            example.inputIds.map(() => 1),
            inputLength,
            0,
          ),
        ),
        undefined,
        'float32',
      );
      const labels = tf.tensor2d(
        batch.map((example) => pad(example.labels, labelLength, IGNORE_INDEX)),
        undefined,
        'int32',
      );
      const decoderInputIds = shiftTokensRight(labels, options.decoderStartTokenId, options.padTokenId);
      const output = model.apply(modelInputs(model, { inputIds, attentionMask, decoderInputIds }), { training: false }) as tf.Tensor | tf.Tensor[];
      const count = tf.sum(tf.cast(tf.notEqual(labels, IGNORE_INDEX), 'float32'));
      // The mean over the batch's label tokens, times their count: the sum.
      return tf.stack([tf.mul(seq2seqLmLoss(labels, Array.isArray(output) ? output[0]! : output), count), count]);
    });
    const [sum, count] = await parts.data();
    parts.dispose();
    total += sum!;
    tokens += count!;
  }
  const loss = tokens > 0 ? total / tokens : Number.NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}
