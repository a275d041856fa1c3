import { InvalidConfigError } from '../errors';

/** What a config field takes, for help, docs and the CLI's flags. */
export type ConfigFieldType = 'integer' | 'number' | 'boolean' | 'string' | 'choice' | 'targets' | 'string-list' | 'layer-indices' | 'string-or-list' | 'number-record' | 'json';

/**
 * One field of a PEFT config: its default, how a raw JSON value becomes a typed one, and (for
 * help, docs and the CLI) what it takes. The description members are optional, so a field made
 * by hand still works; the `fields.*` builders fill `type` and `choices`.
 */
export interface ConfigField<T> {
  readonly defaultValue: () => T;
  parse(value: unknown, field: string): T;
  serialize(value: T): unknown;
  readonly type?: ConfigFieldType;
  /** The values a 'choice' field (or a field with named values) takes. */
  readonly choices?: readonly unknown[];
  /** Whether the method needs a value although PEFT's default is null (prompt methods' num_virtual_tokens). */
  readonly required?: boolean;
  /** One line for help and docs. */
  readonly help?: string;
}

/** A copy of a field with its help text (and whether it is required) added. */
export function describeField<T>(field: ConfigField<T>, description: { help?: string; required?: boolean; type?: ConfigFieldType; choices?: readonly unknown[] }): ConfigField<T> {
  return { ...field, ...description };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
}

function field<T>(type: ConfigFieldType, defaultValue: T | (() => T), parse: (value: unknown, field: string) => T, extra: { choices?: readonly unknown[] } = {}): ConfigField<T> {
  return {
    defaultValue: typeof defaultValue === 'function' ? (defaultValue as () => T) : () => structuredClone(defaultValue),
    parse,
    serialize: (value) => value,
    type,
    ...extra,
  };
}

function fail(field: string, value: unknown, expected: string): never {
  throw new InvalidConfigError(`config field "${field}" is ${describe(value)}; expected ${expected}`, { field });
}

export const fields = {
  integer(defaultValue: number, options: { min?: number } = {}): ConfigField<number> {
    return field('integer', defaultValue, (value, name) => {
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(name, value, 'an integer');
      if (options.min !== undefined && value < options.min) fail(name, value, `an integer >= ${options.min}`);
      return value;
    });
  },
  nullableInteger(defaultValue: number | null, options: { min?: number } = {}): ConfigField<number | null> {
    return field('integer', defaultValue, (value, name) => {
      if (value === null || value === undefined) return null;
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(name, value, 'an integer or null');
      if (options.min !== undefined && value < options.min) fail(name, value, `an integer >= ${options.min} or null`);
      return value;
    });
  },
  number(defaultValue: number, options: { min?: number; max?: number; maxExclusive?: boolean } = {}): ConfigField<number> {
    return field('number', defaultValue, (value, name) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(name, value, 'a finite number');
      if (options.min !== undefined && value < options.min) fail(name, value, `a number >= ${options.min}`);
      if (options.max !== undefined && (options.maxExclusive ? value >= options.max : value > options.max)) {
        fail(name, value, `a number ${options.maxExclusive ? '<' : '<='} ${options.max}`);
      }
      return value;
    });
  },
  boolean(defaultValue: boolean): ConfigField<boolean> {
    return field('boolean', defaultValue, (value, name) => {
      if (typeof value !== 'boolean') fail(name, value, 'true or false');
      return value;
    });
  },
  nullableString(defaultValue: string | null = null): ConfigField<string | null> {
    return field('string', defaultValue, (value, name) => {
      if (value === null || value === undefined) return null;
      if (typeof value !== 'string') fail(name, value, 'a string or null');
      return value;
    });
  },
  string(defaultValue: string): ConfigField<string> {
    return field('string', defaultValue, (value, name) => {
      if (typeof value !== 'string') fail(name, value, 'a string');
      return value;
    });
  },
  oneOf<const T extends string | boolean | null>(defaultValue: T, choices: readonly T[]): ConfigField<T> {
    return field(
      'choice',
      defaultValue,
      (value, name) => {
        if (!choices.includes(value as T)) fail(name, value, `one of ${choices.map((choice) => describe(choice)).join(', ')}`);
        return value as T;
      },
      { choices },
    );
  },
  /** `target_modules`-like: a regex string, a list of names, or null. Lists keep their order, without duplicates. */
  targets(defaultValue: string | string[] | null = null): ConfigField<string | string[] | null> {
    return field('targets', defaultValue, (value, name) => {
      if (value === null || value === undefined) return null;
      if (typeof value === 'string') return value;
      if (value instanceof Set) value = [...value];
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) fail(name, value, 'a regex string, a list of strings, or null');
      return [...new Set(value as string[])];
    });
  },
  nullableStringList(defaultValue: string[] | null = null): ConfigField<string[] | null> {
    return field('string-list', defaultValue, (value, name) => {
      if (value === null || value === undefined) return null;
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) fail(name, value, 'a list of strings or null');
      return [...(value as string[])];
    });
  },
  /** `layers_to_transform`: an int, a list of ints, or null. */
  layerIndices(): ConfigField<number | number[] | null> {
    return field<number | number[] | null>('layer-indices', null, (value, name) => {
      if (value === null || value === undefined) return null;
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
      if (Array.isArray(value) && value.every((item) => typeof item === 'number' && Number.isInteger(item) && item >= 0)) return [...value];
      fail(name, value, 'a layer index (int >= 0), a list of them, or null');
    });
  },
  /** `layers_pattern`: a string, a list of strings, or null. */
  stringOrList(): ConfigField<string | string[] | null> {
    return field<string | string[] | null>('string-or-list', null, (value, name) => {
      if (value === null || value === undefined) return null;
      if (typeof value === 'string') return value;
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return [...value];
      fail(name, value, 'a string, a list of strings, or null');
    });
  },
  /** `rank_pattern`-like: `{ module pattern: number }`. */
  numberRecord(options: { integer?: boolean; min?: number } = {}): ConfigField<Record<string, number>> {
    return field<Record<string, number>>('number-record', {}, (value, name) => {
      if (value === null || value === undefined) return {};
      if (typeof value !== 'object' || Array.isArray(value)) fail(name, value, 'an object of { module pattern: number }');
      const result: Record<string, number> = {};
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const valid = typeof item === 'number' && Number.isFinite(item) && (!options.integer || Number.isInteger(item)) && (options.min === undefined || item >= options.min);
        if (!valid) fail(`${name}.${key}`, item, options.integer ? `an integer >= ${options.min ?? 0}` : 'a number');
        result[key] = item as number;
      }
      return result;
    });
  },
  /** Any JSON value kept as is (`auto_mapping`, `loftq_config`, ...). */
  json<T = unknown>(defaultValue: T): ConfigField<T> {
    return field('json', defaultValue, (value) => (value === undefined ? structuredClone(defaultValue) : (value as T)));
  },
} as const;
