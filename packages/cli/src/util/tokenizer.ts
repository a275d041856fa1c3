import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

/** A model folder's tokenizer (tokenizer.json + tokenizer_config.json), as transformers loads it. */
export interface TextTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly vocabSize: number;
}

/** The files a tokenizer may consist of; `merge` copies these next to the merged model. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'vocab.txt',
  'tokenizer.model',
  'added_tokens.json',
] as const;

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

export async function hasTokenizer(folder: string): Promise<boolean> {
  return (await stat(join(folder, 'tokenizer.json')).catch(() => undefined))?.isFile() ?? false;
}

/** Loads `tokenizer.json` (and `tokenizer_config.json` when present) with @huggingface/tokenizers. */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  const tokenizerJson = await readJson(join(folder, 'tokenizer.json'));
  if (!tokenizerJson) throw new Error(`no tokenizer.json in ${folder}; pass token ids (--input-ids, or {"input_ids"} data rows) instead of text`);
  const config = (await readJson(join(folder, 'tokenizer_config.json'))) ?? {};
  const specialMap = (await readJson(join(folder, 'special_tokens_map.json'))) ?? {};
  const tokenizer = new Tokenizer(tokenizerJson, config);
  const idOf = (key: string) => {
    const content = tokenContent(config[key]) ?? tokenContent(specialMap[key]);
    return content === undefined ? undefined : tokenizer.token_to_id(content);
  };
  const eosTokenId = idOf('eos_token');
  const bosTokenId = idOf('bos_token');
  const padTokenId = idOf('pad_token');
  return {
    encode: (text, options = {}) => tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids,
    decode: (ids, options = {}) => tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true }),
    eosTokenId,
    bosTokenId,
    padTokenId,
    vocabSize: tokenizer.get_vocab(true).size,
  };
}
