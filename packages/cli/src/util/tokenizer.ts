import { loadTokenizer as loadModelTokenizer, type PretrainedTokenizer } from '@peftjs/models';

/** A model folder's tokenizer as the CLI uses it: @peftjs/models' PretrainedTokenizer, ids in and out. */
export interface TextTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly vocabSize: number;
  /** The tokenizer it wraps. */
  readonly pretrained: PretrainedTokenizer;
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

function wrap(tokenizer: PretrainedTokenizer): TextTokenizer {
  return {
    encode: (text, options = {}) => tokenizer.encode(text, { addSpecialTokens: options.addSpecialTokens ?? true }).inputIds,
    decode: (ids, options = {}) => tokenizer.decode(ids, { skipSpecialTokens: options.skipSpecialTokens ?? true }),
    eosTokenId: tokenizer.eosTokenId,
    bosTokenId: tokenizer.bosTokenId,
    padTokenId: tokenizer.padTokenId,
    vocabSize: tokenizer.vocabSize,
    pretrained: tokenizer,
  };
}

export async function hasTokenizer(folder: string): Promise<boolean> {
  return (await loadModelTokenizer(folder)) !== undefined;
}

/** Loads `tokenizer.json` (+ `tokenizer_config.json`, `special_tokens_map.json`) through @peftjs/models. */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  const tokenizer = await loadModelTokenizer(folder);
  if (!tokenizer) throw new Error(`no tokenizer.json in ${folder}; pass token ids (--input-ids, or {"input_ids"} data rows) instead of text`);
  return wrap(tokenizer);
}

/** The folder's tokenizer, or undefined when it has none. */
export async function loadTokenizerIfAny(folder: string): Promise<TextTokenizer | undefined> {
  const tokenizer = await loadModelTokenizer(folder);
  return tokenizer ? wrap(tokenizer) : undefined;
}
