import { ModelLoadError } from '../errors';
import { parsePretrainedConfig, type PretrainedConfig } from './pretrained-config';

export const CONFIG_NAME = 'config.json';
export const GENERATION_CONFIG_NAME = 'generation_config.json';

async function readJson(path: string): Promise<unknown | undefined> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelLoadError(`${path} is not valid JSON: ${(error as Error).message}`, { problem: 'invalid-config', path, cause: error });
  }
}

/** Reads `config.json` from a model folder (or the file itself). */
export async function loadConfig(dirOrFile: string): Promise<PretrainedConfig> {
  const { join } = await import('node:path');
  const { stat } = await import('node:fs/promises');
  const path = (await stat(dirOrFile).catch(() => undefined))?.isDirectory() ? join(dirOrFile, CONFIG_NAME) : dirOrFile;
  const raw = await readJson(path);
  if (raw === undefined) throw new ModelLoadError(`no ${CONFIG_NAME} at ${path}`, { problem: 'missing-file', path });
  return parsePretrainedConfig(raw, path);
}

/** Generation defaults from `generation_config.json` (snake_case, as transformers writes it). */
export interface GenerationDefaults {
  eosTokenId?: number[];
  bosTokenId?: number;
  padTokenId?: number;
  /** Encoder-decoders: the first decoder token (`decoder_start_token_id`). */
  decoderStartTokenId?: number;
  maxNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
}

function ids(value: unknown): number[] | undefined {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'number')) return value as number[];
  return undefined;
}

/** The generation defaults of a config object (config.json or generation_config.json). */
export function generationDefaultsFrom(raw: Readonly<Record<string, unknown>>): GenerationDefaults {
  const number = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : undefined);
  const result: GenerationDefaults = {};
  const eos = ids(raw.eos_token_id);
  if (eos) result.eosTokenId = eos;
  const set = <K extends keyof GenerationDefaults>(key: K, value: GenerationDefaults[K] | undefined) => {
    if (value !== undefined) result[key] = value;
  };
  set('bosTokenId', number('bos_token_id'));
  set('padTokenId', number('pad_token_id'));
  set('decoderStartTokenId', number('decoder_start_token_id'));
  set('maxNewTokens', number('max_new_tokens'));
  set('doSample', typeof raw.do_sample === 'boolean' ? raw.do_sample : undefined);
  set('temperature', number('temperature'));
  set('topK', number('top_k'));
  set('topP', number('top_p'));
  return result;
}

/** Reads `generation_config.json` from a model folder; undefined when the folder has none. */
export async function loadGenerationConfig(dir: string): Promise<GenerationDefaults | undefined> {
  const { join } = await import('node:path');
  const path = join(dir, GENERATION_CONFIG_NAME);
  const raw = await readJson(path);
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelLoadError(`${path} is not a JSON object`, { problem: 'invalid-config', path });
  }
  return generationDefaultsFrom(raw as Record<string, unknown>);
}
