import { UserError } from './user-error';

/** transformers' ignore index: labels of -100 are not scored. */
export const IGNORE_INDEX = -100;

export type DataRow = Record<string, unknown>;

export interface ParsedData {
  /** 'jsonl' when every line is a JSON object (or the text is a JSON array of them), else 'text'. */
  format: 'jsonl' | 'text';
  rows: DataRow[];
}

/** The part of a tokenizer the data needs. */
export interface DataTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  readonly eosTokenId: number | undefined;
}

/** One training example: token ids and the labels scored (IGNORE_INDEX where not). */
export interface Example {
  inputIds: number[];
  labels: number[];
}

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
  const paragraphs = trimmed.split(/\r?\n\s*\r?\n/).map((paragraph) => paragraph.trim()).filter((paragraph) => paragraph !== '');
  return { format: 'text', rows: paragraphs.map((paragraph) => ({ text: paragraph })) };
}

function checkIds(ids: unknown, vocabSize: number | undefined, where: string): number[] {
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new UserError(`${where}: input_ids must be a non-empty array of non-negative integers`);
  }
  if (vocabSize !== undefined) {
    const bad = ids.find((id: number) => id >= vocabSize);
    if (bad !== undefined) throw new UserError(`${where}: token id ${bad} is outside the model's vocabulary (vocab_size ${vocabSize})`);
  }
  return ids as number[];
}

/**
 * Turns rows into examples as the usual transformers recipes do: text is scored on every token
 * (EOS appended); prompt + completion only on the completion; input_ids as given (labels too,
 * when present). Text longer than maxLength is cut into windows of maxLength tokens; other rows
 * are truncated. Rows with fewer than 2 tokens are dropped.
 */
export function tokenizeRows(rows: readonly DataRow[], options: { tokenizer: DataTokenizer | undefined; maxLength: number; vocabSize?: number }): Example[] {
  const eos = options.tokenizer?.eosTokenId;
  const examples: Example[] = [];
  const needTokenizer = (where: string): DataTokenizer => {
    if (!options.tokenizer) throw new UserError(`${where}: this model has no tokenizer.json, so it trains on token ids: give rows like {"input_ids": [1, 2, 3]}`);
    return options.tokenizer;
  };
  rows.forEach((row, index) => {
    const where = `row ${index + 1}`;
    let inputIds: number[];
    let labels: number[];
    if (Array.isArray(row.input_ids)) {
      inputIds = checkIds(row.input_ids, options.vocabSize, where);
      labels = Array.isArray(row.labels) ? (row.labels as number[]) : [...inputIds];
      if (labels.length !== inputIds.length) throw new UserError(`${where}: labels has ${labels.length} entries, input_ids ${inputIds.length}`);
    } else if (typeof row.prompt === 'string' && typeof row.completion === 'string') {
      const tokenizer = needTokenizer(where);
      const prompt = tokenizer.encode(row.prompt);
      const completion = [...tokenizer.encode(row.completion, { addSpecialTokens: false }), ...(eos !== undefined ? [eos] : [])];
      inputIds = [...prompt, ...completion];
      labels = [...prompt.map(() => IGNORE_INDEX), ...completion];
    } else if (typeof row.text === 'string') {
      const ids = [...needTokenizer(where).encode(row.text), ...(eos !== undefined ? [eos] : [])];
      for (let start = 0; start < ids.length; start += options.maxLength) {
        const window = ids.slice(start, start + options.maxLength);
        if (window.length >= 2) examples.push({ inputIds: window, labels: [...window] });
      }
      return;
    } else {
      const keys = Object.keys(row).map((key) => `"${key}"`).join(', ') || 'no fields';
      throw new UserError(`${where}: a row needs "text", "prompt" + "completion", or "input_ids"; it has ${keys}`);
    }
    if (inputIds.length > options.maxLength) {
      inputIds = inputIds.slice(0, options.maxLength);
      labels = labels.slice(0, options.maxLength);
    }
    if (inputIds.length >= 2) examples.push({ inputIds, labels });
  });
  if (examples.length === 0) throw new UserError('None of the rows has 2 or more tokens, so there is nothing to learn: add longer examples.');
  return examples;
}

/** A padded batch: right padding, attention mask 0 and label -100 on the padding. */
export function padBatch(examples: readonly Example[], padTokenId: number): { inputIds: number[][]; attentionMask: number[][]; labels: number[][]; tokens: number } {
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
  return { inputIds, attentionMask, labels, tokens };
}
