import { IGNORE_INDEX, padBatch, rowKind as modelsRowKind, tokenizeRows as modelsTokenizeRows, type RowKind, type TrainingExample } from '@peftjs/models';
import type { TextTokenizer } from '../util/tokenizer';
import { UsageError } from '../util/usage-error';
import type { DataRow } from './read-rows';

// Row tokenisation and padding are @peftjs/models' (browser-safe, shared with the in-browser trainer);
// the CLI reports bad rows as usage errors.
export { IGNORE_INDEX, padBatch, type RowKind };

/** One training example: token ids and the labels scored (IGNORE_INDEX where not). */
export type Example = TrainingExample;

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
  return modelsTokenizeRows(rows, { ...options, source: options.source ?? 'data', longText: 'truncate', shortRows: 'error', error: usageError });
}
