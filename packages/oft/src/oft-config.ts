import { defineConfigSchema, fields, InvalidConfigError, type ConfigField, type TaskType } from '@peftjs/core';

/** The `peft_type` OFT adapters carry in adapter_config.json. */
export const OFT_PEFT_TYPE = 'OFT';

function positiveInteger(defaultValue: number): ConfigField<number> {
  const base = fields.integer(defaultValue);
  return {
    ...base,
    parse(value, name) {
      const parsed = base.parse(value, name);
      if (parsed <= 0) throw new InvalidConfigError(`config field "${name}" is ${parsed}; expected a positive integer (the number of OFT blocks)`, { field: name });
      return parsed;
    },
  };
}

/** OFTConfig of PEFT 0.11.1 (the LyCORIS-style config): every field and default. */
export const oftConfigSchema = defineConfigSchema({
  peftType: OFT_PEFT_TYPE,
  fields: {
    rank_pattern: fields.numberRecord({ integer: true, min: 1 }),
    alpha_pattern: fields.numberRecord(),
    r: positiveInteger(8),
    module_dropout: fields.number(0, { min: 0, max: 1 }),
    target_modules: fields.targets(null),
    init_weights: fields.boolean(true),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
    modules_to_save: fields.nullableStringList(null),
    coft: fields.boolean(false),
    eps: fields.number(6e-5, { min: 0 }),
    block_share: fields.boolean(false),
  },
});

/** A parsed OFT config: PEFT 0.11.1's OFTConfig with camelCase names and every default filled in. */
export type OftConfig = ReturnType<typeof oftConfigSchema.parse>;

/** What `createOftConfig` takes: any OFTConfig field in camelCase (snake_case keys work too). */
export interface OftConfigOptions {
  /** The number of diagonal blocks (not a rank): each block is `ceil(out / r)` square. */
  r?: number;
  targetModules?: string | readonly string[] | null;
  moduleDropout?: number;
  initWeights?: boolean;
  layersToTransform?: number | readonly number[] | null;
  layersPattern?: string | readonly string[] | null;
  modulesToSave?: readonly string[] | null;
  coft?: boolean;
  eps?: number;
  blockShare?: boolean;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated OFT config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createOftConfig(options: OftConfigOptions = {}): OftConfig {
  return oftConfigSchema.parse({ ...options, peft_type: OFT_PEFT_TYPE });
}

const patternCache = new Map<string, RegExp>();

/**
 * The LyCORIS tuners' pattern lookup (PEFT 0.11.1): the first key of `rank_pattern`, then of
 * `alpha_pattern`, that matches the module path as `re.match(rf"(.*\.)?{key}$", path)`; else the
 * layer's own name. The one key serves both lookups.
 */
export function lycorisPatternKey(path: string, rankPattern: Record<string, number>, alphaPattern: Record<string, number>): string {
  for (const key of [...Object.keys(rankPattern), ...Object.keys(alphaPattern)]) {
    let regex = patternCache.get(key);
    if (!regex) {
      try {
        regex = new RegExp(`^(?:.*\\.)?(?:${key})$`);
      } catch (error) {
        throw new InvalidConfigError(`rank_pattern / alpha_pattern key ${JSON.stringify(key)} is not a valid regular expression`, { field: 'rank_pattern', cause: error });
      }
      patternCache.set(key, regex);
    }
    if (regex.test(path)) return key;
  }
  return path.slice(path.lastIndexOf('.') + 1);
}
