import { collate as modelsPadBatch } from '@peftjs/trainer';
import { IGNORE_INDEX, rowKind as modelsRowKind, tokenizeRows as modelsTokenizeRows, type RowKind, type TrainingExample } from '@peftjs/models';
import type { TextTokenizer } from '../util/tokenizer';
import { UsageError } from '../util/usage-error';
import type { DataRow } from './read-rows';
import { batchTaskIds, rowTaskId } from './task-ids';

// Row tokenisation is @peftjs/models' and padding @peftjs/trainer's (both browser-safe, shared with the in-browser page);
// the CLI reports bad rows as usage errors.
export { IGNORE_INDEX, type RowKind };

/** One training example: token ids and the labels scored (IGNORE_INDEX where not), and the row's `"task_ids"` when it has one. */
export type Example = TrainingExample & { taskId?: number };

/** A padded batch (the trainer's collate) with the rows' task ids (Poly, multitask prompt tuning) when they have them. */
export function padBatch(examples: readonly Example[], padTokenId: number): ReturnType<typeof modelsPadBatch> & { taskIds?: number[] } {
  const padded = modelsPadBatch(examples, padTokenId);
  const taskIds = batchTaskIds(examples);
  return taskIds ? { ...padded, taskIds } : padded;
}

const usageError = (message: string): Error => new UsageError(message);

export function rowKind(row: DataRow, where: string): RowKind {
  return modelsRowKind(row, where, usageError);
}

export interface TokenizeOptions {
  tokenizer?: TextTokenizer;
  maxLength: number;
  vocabSize?: number;
  /** Appended to text and completions so the model learns to stop (default: the tokenizer's EOS). */
  eosTokenId?: number;
  source?: string;
  /** Do not append EOS (scoring text as it is, as transformers' perplexity does). */
  noEos?: boolean;
}

/**
 * Turns rows into examples as the usual transformers recipes do: `{"text"}` is scored on every
 * token; `{"prompt","completion"}` only on the completion (prompt labels are -100); `{"input_ids"}`
 * is used as is (with its own `labels` when present). Text rows get the EOS token appended; rows
 * longer than maxLength are truncated.
 */
export function tokenizeRows(rows: readonly DataRow[], options: TokenizeOptions): Example[] {
  const source = options.source ?? 'data';
  const examples = modelsTokenizeRows(rows, { ...options, source, longText: 'truncate', shortRows: 'error', error: usageError });
  // A row's "task_ids" rides along with its example (rows map one to one).
  return examples.map((example, index) => {
    const taskId = rows[index] ? rowTaskId(rows[index]!, `${source} row ${index + 1}`) : undefined;
    return taskId === undefined ? example : { ...example, taskId };
  });
}
