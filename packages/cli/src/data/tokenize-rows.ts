import type { TextTokenizer } from '../util/tokenizer';
import { UsageError } from '../util/usage-error';
import type { DataRow } from './read-rows';
import { batchTaskIds, rowTaskId } from './task-ids';

/** transformers' ignore index: labels of -100 are not scored. */
export const IGNORE_INDEX = -100;

/** One training example: token ids and the labels scored (IGNORE_INDEX where not). */
export interface Example {
  inputIds: number[];
  labels: number[];
  /** The row's `"task_ids"` (Poly, multitask prompt tuning), when it has one. */
  taskId?: number;
}

export type RowKind = 'text' | 'prompt-completion' | 'input-ids';

export function rowKind(row: DataRow, where: string): RowKind {
  if (Array.isArray(row.input_ids)) return 'input-ids';
  if (typeof row.prompt === 'string' && typeof row.completion === 'string') return 'prompt-completion';
  if (typeof row.text === 'string') return 'text';
  throw new UsageError(`${where}: a row needs "text", "prompt" + "completion", or "input_ids"; it has ${Object.keys(row).map((key) => `"${key}"`).join(', ') || 'no fields'}`);
}

function checkIds(ids: unknown, vocabSize: number | undefined, where: string): number[] {
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new UsageError(`${where}: input_ids must be a non-empty array of non-negative integers`);
  }
  if (vocabSize !== undefined) {
    const bad = ids.find((id) => id >= vocabSize);
    if (bad !== undefined) throw new UsageError(`${where}: token id ${bad} is outside the model's vocabulary (vocab_size ${vocabSize})`);
  }
  return ids as number[];
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
  const eos = options.noEos ? undefined : (options.eosTokenId ?? options.tokenizer?.eosTokenId);
  const needTokenizer = (where: string) => {
    if (!options.tokenizer) throw new UsageError(`${where}: text rows need a tokenizer (tokenizer.json in the base model folder); give {"input_ids"} rows instead`);
    return options.tokenizer;
  };
  return rows.map((row, index) => {
    const where = `${source} row ${index + 1}`;
    const kind = rowKind(row, where);
    let inputIds: number[];
    let labels: number[];
    if (kind === 'input-ids') {
      inputIds = checkIds(row.input_ids, options.vocabSize, where);
      if (Array.isArray(row.labels)) {
        labels = row.labels as number[];
        if (labels.length !== inputIds.length) throw new UsageError(`${where}: labels has ${labels.length} entries, input_ids ${inputIds.length}`);
      } else labels = [...inputIds];
    } else if (kind === 'text') {
      const tokenizer = needTokenizer(where);
      inputIds = [...tokenizer.encode(row.text as string), ...(eos !== undefined ? [eos] : [])];
      labels = [...inputIds];
    } else {
      const tokenizer = needTokenizer(where);
      const prompt = tokenizer.encode(row.prompt as string);
      const completion = [...tokenizer.encode(row.completion as string, { addSpecialTokens: false }), ...(eos !== undefined ? [eos] : [])];
      inputIds = [...prompt, ...completion];
      labels = [...prompt.map(() => IGNORE_INDEX), ...completion];
    }
    if (inputIds.length > options.maxLength) {
      inputIds = inputIds.slice(0, options.maxLength);
      labels = labels.slice(0, options.maxLength);
    }
    if (inputIds.length < 2) throw new UsageError(`${where}: fewer than 2 tokens, nothing to predict`);
    const taskId = rowTaskId(row, where);
    return taskId === undefined ? { inputIds, labels } : { inputIds, labels, taskId };
  });
}

/** A padded batch: right padding, attention mask 0 and label -100 on the padding. */
export function padBatch(examples: readonly Example[], padTokenId: number): { inputIds: number[][]; attentionMask: number[][]; labels: number[][]; tokens: number; taskIds?: number[] } {
  const length = Math.max(...examples.map((example) => example.inputIds.length));
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const labels: number[][] = [];
  let tokens = 0;
  for (const example of examples) {
    const padding = length - example.inputIds.length;
    inputIds.push([...example.inputIds, ...new Array<number>(padding).fill(padTokenId)]);
    attentionMask.push([...example.inputIds.map(() => 1), ...new Array<number>(padding).fill(0)]);
    labels.push([...example.labels, ...new Array<number>(padding).fill(IGNORE_INDEX)]);
    tokens += example.inputIds.length;
  }
  const taskIds = batchTaskIds(examples);
  return taskIds ? { inputIds, attentionMask, labels, tokens, taskIds } : { inputIds, attentionMask, labels, tokens };
}
