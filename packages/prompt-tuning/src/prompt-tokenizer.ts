import { InvalidConfigError } from '@peftjs/core';

/**
 * What TEXT initialisation needs from a tokenizer: token ids for a text, special tokens included
 * as transformers' `tokenizer(text)["input_ids"]` gives them. `PretrainedTokenizer` from
 * @peftjs/models fits (its `encode()` returns `{ inputIds }`); a function works too.
 */
export type PromptTokenizer = { encode(text: string): { readonly inputIds: readonly number[] } | readonly number[] } | ((text: string) => readonly number[]);

const TOKENIZER = Symbol.for('peftjs.promptTuning.tokenizer');

/** Attaches a tokenizer to a parsed config: kept through config copies, never written to JSON. */
export function attachTokenizer<C extends object>(config: C, tokenizer: PromptTokenizer | undefined): C {
  if (tokenizer !== undefined) {
    if (typeof tokenizer !== 'function' && (typeof tokenizer !== 'object' || tokenizer === null || typeof tokenizer.encode !== 'function')) {
      throw new InvalidConfigError('tokenizer must have an encode(text) method (a PretrainedTokenizer from @peftjs/models) or be a function text => ids', { field: 'tokenizer' });
    }
    (config as Record<symbol, unknown>)[TOKENIZER] = tokenizer;
  }
  return config;
}

export function attachedTokenizer(config: object): PromptTokenizer | undefined {
  return (config as Record<symbol, PromptTokenizer | undefined>)[TOKENIZER];
}

/** Splits the TypeScript-only `tokenizer` option off raw config input. */
export function takeTokenizer(raw: unknown): { rest: unknown; tokenizer: PromptTokenizer | undefined } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { rest: raw, tokenizer: undefined };
  const { tokenizer, ...rest } = raw as Record<string, unknown>;
  return { rest, tokenizer: (tokenizer as PromptTokenizer | undefined) ?? attachedTokenizer(raw) };
}

export function encodeText(tokenizer: PromptTokenizer, text: string): number[] {
  const encoded = typeof tokenizer === 'function' ? tokenizer(text) : tokenizer.encode(text);
  const ids = Array.isArray(encoded) ? encoded : (encoded as { inputIds?: readonly number[] }).inputIds;
  if (!Array.isArray(ids) || ids.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new InvalidConfigError('the tokenizer returned no token ids for prompt_tuning_init_text', { field: 'prompt_tuning_init_text' });
  }
  return [...ids];
}

/**
 * PEFT's TEXT init ids: the text's token ids cut to `total` or repeated cyclically up to it.
 * An empty encoding is refused (PEFT would fail on it too).
 */
export function textInitTokenIds(tokenizer: PromptTokenizer, text: string, total: number): number[] {
  const ids = encodeText(tokenizer, text);
  if (ids.length === 0) throw new InvalidConfigError(`prompt_tuning_init_text ${JSON.stringify(text)} encodes to no tokens`, { field: 'prompt_tuning_init_text' });
  if (ids.length > total) return ids.slice(0, total);
  const repeated: number[] = [];
  while (repeated.length < total) repeated.push(...ids);
  return repeated.slice(0, total);
}
