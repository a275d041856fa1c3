import { ModelLoadError } from '../errors';

/** A transformers `config.json` as parsed: snake_case keys exactly as Python writes them. */
export type PretrainedConfig = Readonly<Record<string, unknown>> & { readonly model_type: string };

/** Checks that a parsed config.json is an object with a `model_type`. */
export function parsePretrainedConfig(raw: unknown, source = 'config.json'): PretrainedConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelLoadError(`${source} is not a JSON object`, { problem: 'invalid-config', path: source });
  }
  const modelType = (raw as Record<string, unknown>).model_type;
  if (typeof modelType !== 'string' || modelType === '') {
    throw new ModelLoadError(`${source} has no "model_type" string; it is needed to pick the architecture`, { problem: 'invalid-config', path: source });
  }
  return raw as PretrainedConfig;
}

/** Typed reads of config fields with transformers' defaults; errors name the field. */
export class ConfigReader {
  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    private readonly source: string,
  ) {}

  private fail(key: string, expected: string): never {
    throw new ModelLoadError(`${this.source}: "${key}" must be ${expected}, got ${JSON.stringify(this.raw[key])}`, { problem: 'invalid-config', path: this.source });
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** The first key present (config aliases such as `n_embd` / `hidden_size`), else undefined. */
  firstPresent(...keys: string[]): string | undefined {
    return keys.find((key) => this.has(key));
  }

  number(key: string, fallback?: number): number {
    const value = this.raw[key];
    if (value === undefined || value === null) {
      if (fallback === undefined) this.fail(key, 'a number (it is required)');
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, 'a finite number');
    return value;
  }

  integer(key: string, fallback?: number, minimum = 0): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value < minimum) this.fail(key, `an integer >= ${minimum}`);
    return value;
  }

  optionalInteger(key: string): number | undefined {
    return this.has(key) ? this.integer(key) : undefined;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(key, 'true or false');
    return value;
  }

  string(key: string, fallback: string): string {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string') this.fail(key, 'a string');
    return value;
  }

  /** `eos_token_id` and friends: a number, a list of numbers, or absent. */
  tokenIds(key: string): number[] | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value)) return [value];
    if (Array.isArray(value) && value.every((entry) => typeof entry === 'number' && Number.isInteger(entry))) return value as number[];
    this.fail(key, 'a token id or a list of token ids');
  }

  object(key: string): Readonly<Record<string, unknown>> | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'an object');
    return value as Record<string, unknown>;
  }
}
