import { InvalidConfigError } from '@peftjs/core';
import { IGNORE_INDEX } from '../loss/losses';

/** One row of training data as read from JSONL / CSV / pasted text. */
export type DataRow = Record<string, unknown>;

/** One training example: token ids and the labels scored (IGNORE_INDEX where not). */
export interface TrainingExample {
  inputIds: number[];
  labels: number[];
}

/** The part of a tokenizer that row tokenisation needs. */
export interface RowTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  readonly eosTokenId: number | undefined;
}

export type RowKind = 'text' | 'prompt-completion' | 'input-ids';

export interface TokenizeRowsOptions {
  tokenizer?: RowTokenizer;
  maxLength: number;
  vocabSize?: number;
  /** Appended to text and completions so the model learns to stop (default: the tokenizer's EOS). */
  eosTokenId?: number;
  /** Do not append EOS (scoring text as it is, as transformers' perplexity does). */
  noEos?: boolean;
  /** Names the rows in messages: `"<source> row 3"`; default just `"row 3"`. */
  source?: string;
  /** A text row longer than maxLength: cut to its first window ('truncate', default) or split into windows of maxLength ('windows'). */
  longText?: 'truncate' | 'windows';
  /** A row with fewer than 2 tokens: refused ('error', default) or left out ('drop'). */
  shortRows?: 'error' | 'drop';
  /** What to say when a text row needs a tokenizer the model lacks. */
  missingTokenizerMessage?: (where: string) => string;
  /** Makes the error thrown for bad data (default: core's InvalidConfigError). */
  error?: (message: string) => Error;
}

const defaultError = (message: string): Error => new InvalidConfigError(message, { field: 'data' });

/** Which of the three row shapes a row has. */
export function rowKind(row: DataRow, where: string, error: (message: string) => Error = defaultError): RowKind {
  if (Array.isArray(row.input_ids)) return 'input-ids';
  if (typeof row.prompt === 'string' && typeof row.completion === 'string') return 'prompt-completion';
  if (typeof row.text === 'string') return 'text';
  // The keys are there but their values are not what each shape needs: say which value is wrong.
  const describe = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);
  if ('input_ids' in row) throw error(`${where}: "input_ids" must be an array of token ids, got ${describe(row.input_ids)}`);
  if ('prompt' in row || 'completion' in row) {
    for (const key of ['prompt', 'completion'] as const) {
      if (key in row && typeof row[key] !== 'string') throw error(`${where}: "${key}" must be a string, got ${describe(row[key])}`);
    }
  }
  if ('text' in row) throw error(`${where}: "text" must be a string, got ${describe(row.text)}`);
  throw error(
    `${where}: a row needs "text", "prompt" + "completion", or "input_ids"; it has ${
      Object.keys(row)
        .map((key) => `"${key}"`)
        .join(', ') || 'no fields'
    }`,
  );
}

function checkIds(ids: unknown, vocabSize: number | undefined, where: string, error: (message: string) => Error): number[] {
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw error(`${where}: input_ids must be a non-empty array of non-negative integers`);
  }
  if (vocabSize !== undefined) {
    const bad = ids.find((id: number) => id >= vocabSize);
    if (bad !== undefined) throw error(`${where}: token id ${bad} is outside the model's vocabulary (vocab_size ${vocabSize})`);
  }
  return ids as number[];
}

/**
 * Turns rows into examples as the usual transformers recipes do: `{"text"}` is scored on every
 * token (EOS appended); `{"prompt","completion"}` only on the completion (prompt labels are -100);
 * `{"input_ids"}` is used as is (with its own `labels` when present). Browser-safe: the CLI and
 * the in-browser trainer both use it (padding into batches is @peftjs/trainer's `collate`).
 */
export function tokenizeRows(rows: readonly DataRow[], options: TokenizeRowsOptions): TrainingExample[] {
  const error = options.error ?? defaultError;
  const eos = options.noEos ? undefined : (options.eosTokenId ?? options.tokenizer?.eosTokenId);
  const needTokenizer = (where: string): RowTokenizer => {
    if (!options.tokenizer) {
      throw error(options.missingTokenizerMessage?.(where) ?? `${where}: text rows need a tokenizer (tokenizer.json in the base model folder); give {"input_ids"} rows instead`);
    }
    return options.tokenizer;
  };
  const examples: TrainingExample[] = [];
  const add = (inputIds: number[], labels: number[], where: string) => {
    if (inputIds.length >= 2) examples.push({ inputIds, labels });
    else if (options.shortRows !== 'drop') throw error(`${where}: fewer than 2 tokens, nothing to predict`);
  };
  rows.forEach((row, index) => {
    const where = options.source ? `${options.source} row ${index + 1}` : `row ${index + 1}`;
    const kind = rowKind(row, where, error);
    let inputIds: number[];
    let labels: number[];
    if (kind === 'input-ids') {
      inputIds = checkIds(row.input_ids, options.vocabSize, where, error);
      labels = Array.isArray(row.labels) ? (row.labels as number[]) : [...inputIds];
      if (labels.length !== inputIds.length) throw error(`${where}: labels has ${labels.length} entries, input_ids ${inputIds.length}`);
    } else if (kind === 'text') {
      inputIds = [...needTokenizer(where).encode(row.text as string), ...(eos !== undefined ? [eos] : [])];
      if (options.longText === 'windows') {
        for (let start = 0; start < inputIds.length; start += options.maxLength) {
          const window = inputIds.slice(start, start + options.maxLength);
          if (window.length >= 2) examples.push({ inputIds: window, labels: [...window] });
        }
        return;
      }
      labels = [...inputIds];
    } else {
      const tokenizer = needTokenizer(where);
      const prompt = tokenizer.encode(row.prompt as string);
      const completion = [...tokenizer.encode(row.completion as string, { addSpecialTokens: false }), ...(eos !== undefined ? [eos] : [])];
      inputIds = [...prompt, ...completion];
      labels = [...prompt.map(() => IGNORE_INDEX), ...completion];
    }
    add(inputIds.slice(0, options.maxLength), labels.slice(0, options.maxLength), where);
  });
  return examples;
}
