import { collate as padBatch } from '@peftjs/trainer';
import { IGNORE_INDEX, tokenizeRows as tokenizeTrainingRows, type DataRow, type RowTokenizer, type TrainingExample } from '@peftjs/models';
import { UserError } from './user-error';

export { IGNORE_INDEX, padBatch, type DataRow };

export interface ParsedData {
  /** 'jsonl' when every line is a JSON object (or the text is a JSON array of them), else 'text'. */
  format: 'jsonl' | 'text';
  rows: DataRow[];
}

/** The part of a tokenizer the data needs. */
export type DataTokenizer = RowTokenizer;

/** One training example: token ids and the labels scored (IGNORE_INDEX where not). */
export type Example = TrainingExample;

const EMPTY = 'The training data is empty: paste some text or JSONL rows ({"text": …}, {"prompt": …, "completion": …} or {"input_ids": […]}), or pick a file.';

/**
 * Reads pasted or uploaded training data: JSONL (one object per line: `{"text"}`,
 * `{"prompt","completion"}` or `{"input_ids"}`), a JSON array of such objects, or plain text
 * (each blank-line-separated paragraph is one example).
 */
export function parseTrainingText(text: string): ParsedData {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') throw new UserError(EMPTY);
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new UserError(`The data starts with "[" but is not a JSON array: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed) || !parsed.every((row) => typeof row === 'object' && row !== null && !Array.isArray(row))) {
      throw new UserError('A JSON array of training data must hold objects like {"text": "…"}.');
    }
    if (parsed.length === 0) throw new UserError(EMPTY);
    return { format: 'jsonl', rows: parsed as DataRow[] };
  }
  if (trimmed.startsWith('{')) {
    const rows: DataRow[] = [];
    trimmed.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '') return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (error) {
        throw new UserError(`JSONL line ${index + 1} is not JSON (${(error as Error).message}): ${line.slice(0, 80)}`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new UserError(`JSONL line ${index + 1} is not a JSON object: ${line.slice(0, 80)}`);
      rows.push(row as DataRow);
    });
    return { format: 'jsonl', rows };
  }
  const paragraphs = trimmed
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph !== '');
  return { format: 'text', rows: paragraphs.map((paragraph) => ({ text: paragraph })) };
}

/**
 * Turns rows into examples as the usual transformers recipes do (@peftjs/models' tokenizeRows):
 * text is scored on every token (EOS appended) and cut into windows of maxLength tokens; prompt +
 * completion only on the completion; input_ids as given (labels too, when present). Rows with
 * fewer than 2 tokens are dropped.
 */
export function tokenizeRows(rows: readonly DataRow[], options: { tokenizer: DataTokenizer | undefined; maxLength: number; vocabSize?: number }): Example[] {
  const examples = tokenizeTrainingRows(rows, {
    ...options,
    tokenizer: options.tokenizer,
    longText: 'windows',
    shortRows: 'drop',
    missingTokenizerMessage: (where) => `${where}: this model has no tokenizer.json, so it trains on token ids: give rows like {"input_ids": [1, 2, 3]}`,
    error: (message) => new UserError(message),
  });
  if (examples.length === 0) throw new UserError('None of the rows has 2 or more tokens, so there is nothing to learn: add longer examples.');
  return examples;
}
