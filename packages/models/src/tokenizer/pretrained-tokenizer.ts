import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidConfigError } from '@peftjs/core';
import { resolveModelFolder, type ResolveModelOptions } from '../auto/resolve-model-folder';
import { ModelLoadError } from '../errors';

export const TOKENIZER_NAME = 'tokenizer.json';
export const TOKENIZER_CONFIG_NAME = 'tokenizer_config.json';
export const SPECIAL_TOKENS_MAP_NAME = 'special_tokens_map.json';

export interface EncodeOptions {
  /** Add the model's special tokens ([CLS] … [SEP], BOS). Default true. */
  addSpecialTokens?: boolean;
  /** A second text (sentence pairs, BERT). */
  textPair?: string;
}

export interface BatchEncodeOptions extends EncodeOptions {
  /** 'longest' (default for a batch), 'max_length' (to maxLength) or false (rows keep their lengths). */
  padding?: 'longest' | 'max_length' | false;
  /** Which side pads go on. Default: tokenizer_config's `padding_side`, else right. Use 'left' to generate. */
  paddingSide?: 'left' | 'right';
  /** Cut rows longer than maxLength (keeping the start). */
  truncation?: boolean;
  /** Default: tokenizer_config's `model_max_length`. */
  maxLength?: number;
  /** Second texts, one per row. */
  textPairs?: readonly string[];
}

export interface Encoding {
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Default: tokenizer_config's `clean_up_tokenization_spaces`. */
  cleanUpTokenizationSpaces?: boolean;
}

type Json = Record<string, unknown>;

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return undefined;
}

/**
 * A transformers tokenizer loaded from `tokenizer.json` (+ `tokenizer_config.json`,
 * `special_tokens_map.json`), running on `@huggingface/tokenizers` (pure JS, offline, Node and
 * browsers). Ids in, ids out; batches are padded like transformers' tokenizers.
 */
export class PretrainedTokenizer {
  readonly tokenizer: Tokenizer;
  readonly config: Readonly<Json>;
  readonly padTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly bosTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly paddingSide: 'left' | 'right';
  readonly modelMaxLength: number | undefined;

  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}) {
    this.config = tokenizerConfig;
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const id = (key: string) => {
      const content = tokenContent(tokenizerConfig[key]);
      return content === undefined ? undefined : this.tokenizer.token_to_id(content);
    };
    this.padTokenId = id('pad_token');
    this.eosTokenId = id('eos_token');
    this.bosTokenId = id('bos_token');
    this.unkTokenId = id('unk_token');
    this.paddingSide = tokenizerConfig.padding_side === 'left' ? 'left' : 'right';
    const maxLength = tokenizerConfig.model_max_length;
    // transformers writes a huge sentinel (1e30) when there is no limit.
    this.modelMaxLength = typeof maxLength === 'number' && maxLength < 1e9 ? maxLength : undefined;
  }

  /** Loads the tokenizer of a model folder or Hub repo id; throws a ModelLoadError when it has no tokenizer.json. */
  static async fromPretrained(dirOrRepoId: string, options: ResolveModelOptions = {}): Promise<PretrainedTokenizer> {
    const tokenizer = await loadTokenizer(await resolveModelFolder(dirOrRepoId, options));
    if (!tokenizer) {
      throw new ModelLoadError(
        `${dirOrRepoId} has no ${TOKENIZER_NAME}; pass token ids directly, or add the tokenizer.json of the model (tokenizer.save_pretrained(dir) in Python writes it)`,
        {
          problem: 'missing-file',
          path: dirOrRepoId,
        },
      );
    }
    return tokenizer;
  }

  get vocabSize(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  tokenize(text: string, options: EncodeOptions = {}): string[] {
    return this.tokenizer.tokenize(text, { text_pair: options.textPair ?? null, add_special_tokens: options.addSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const encoded = this.tokenizer.encode(text, { text_pair: options.textPair ?? null, add_special_tokens: options.addSpecialTokens ?? true, return_token_type_ids: true });
    return { inputIds: [...encoded.ids], attentionMask: [...encoded.attention_mask], tokenTypeIds: [...(encoded.token_type_ids ?? encoded.ids.map(() => 0))] };
  }

  /** Encodes a batch, padded (and optionally truncated) to equal lengths. */
  encodeBatch(texts: readonly string[], options: BatchEncodeOptions = {}): BatchEncoding {
    if (options.textPairs && options.textPairs.length !== texts.length) {
      throw new InvalidConfigError(`textPairs has ${options.textPairs.length} entries for ${texts.length} texts`, { field: 'textPairs' });
    }
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const rows = texts.map((text, index) => {
      const encoding = this.encode(text, { addSpecialTokens: options.addSpecialTokens, textPair: options.textPairs?.[index] });
      if (options.truncation && maxLength !== undefined && encoding.inputIds.length > maxLength) {
        return {
          inputIds: encoding.inputIds.slice(0, maxLength),
          attentionMask: encoding.attentionMask.slice(0, maxLength),
          tokenTypeIds: encoding.tokenTypeIds.slice(0, maxLength),
        };
      }
      return encoding;
    });
    const padding = options.padding ?? 'longest';
    if (padding === false)
      return { inputIds: rows.map((row) => row.inputIds), attentionMask: rows.map((row) => row.attentionMask), tokenTypeIds: rows.map((row) => row.tokenTypeIds) };
    if (padding === 'max_length' && maxLength === undefined)
      throw new InvalidConfigError("padding 'max_length' needs maxLength (the tokenizer has no model_max_length)", { field: 'maxLength' });
    const length = padding === 'max_length' ? maxLength! : Math.max(...rows.map((row) => row.inputIds.length));
    const padId = this.padTokenId ?? this.eosTokenId;
    if (padId === undefined && rows.some((row) => row.inputIds.length < length)) {
      throw new InvalidConfigError('the tokenizer has no pad_token (nor eos_token) to pad with; pass padding: false or set pad_token in tokenizer_config.json', {
        field: 'padding',
      });
    }
    const side = options.paddingSide ?? this.paddingSide;
    const pad = <T>(row: T[], value: T): T[] => {
      const fill = new Array<T>(Math.max(0, length - row.length)).fill(value);
      return side === 'left' ? [...fill, ...row] : [...row, ...fill];
    };
    return {
      inputIds: rows.map((row) => pad(row.inputIds, padId!)),
      attentionMask: rows.map((row) => pad(row.attentionMask, 0)),
      tokenTypeIds: rows.map((row) => pad(row.tokenTypeIds, 0)),
    };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.tokenizer.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      ...(options.cleanUpTokenizationSpaces !== undefined ? { clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces } : {}),
    });
  }

  batchDecode(rows: readonly (readonly number[])[], options: DecodeOptions = {}): string[] {
    return rows.map((row) => this.decode(row, options));
  }
}

async function readJson(path: string): Promise<Json | undefined> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new ModelLoadError(`${path} is not valid JSON: ${(error as Error).message}`, { problem: 'invalid-config', path, cause: error });
  }
}

/**
 * The tokenizer of a local model folder, or undefined when the folder has no tokenizer.json
 * (then work with ids). Special tokens come from tokenizer_config.json and special_tokens_map.json.
 */
export async function loadTokenizer(dir: string): Promise<PretrainedTokenizer | undefined> {
  const { join } = await import('node:path');
  const tokenizerJson = await readJson(join(dir, TOKENIZER_NAME));
  if (!tokenizerJson) return undefined;
  const config = (await readJson(join(dir, TOKENIZER_CONFIG_NAME))) ?? {};
  const specialTokens = (await readJson(join(dir, SPECIAL_TOKENS_MAP_NAME))) ?? {};
  return new PretrainedTokenizer(tokenizerJson, { ...specialTokens, ...config });
}

/** transformers' AutoTokenizer for tokenizer.json folders. */
export const AutoTokenizer = {
  fromPretrained: (dirOrRepoId: string, options?: ResolveModelOptions) => PretrainedTokenizer.fromPretrained(dirOrRepoId, options),
};
