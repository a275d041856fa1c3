import { fields, InvalidConfigError, type ConfigField } from '@peftjs/core';

function positiveInteger(defaultValue: number): ConfigField<number> {
  const base = fields.integer(defaultValue);
  return {
    ...base,
    parse(value, name) {
      const parsed = base.parse(value, name);
      if (parsed <= 0) throw new InvalidConfigError(`config field "${name}" is ${parsed}; expected a positive integer (\`r\` should be a positive integer value)`, { field: name });
      return parsed;
    },
  };
}

/**
 * The fields every LyCORIS config shares (PEFT 0.11.1's LycorisConfig plus the fields LoHaConfig
 * and LoKrConfig both declare), with PEFT's names and defaults.
 */
export function lycorisConfigFields() {
  return {
    r: positiveInteger(8),
    alpha: fields.number(8),
    rank_dropout: fields.number(0, { min: 0, max: 1 }),
    module_dropout: fields.number(0, { min: 0, max: 1 }),
    use_effective_conv2d: fields.boolean(false),
    target_modules: fields.targets(null),
    init_weights: fields.boolean(true),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
    rank_pattern: fields.numberRecord({ integer: true, min: 1 }),
    alpha_pattern: fields.numberRecord(),
    modules_to_save: fields.nullableStringList(null),
  };
}

/** What the LyCORIS layer code reads of a parsed LoHa or LoKr config. */
export interface LycorisConfigBase {
  r: number;
  alpha: number;
  rankDropout: number;
  moduleDropout: number;
  useEffectiveConv2d: boolean;
  initWeights: boolean;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
}

const patternCache = new Map<string, RegExp>();

/**
 * PEFT's LycorisTuner lookup: the first key, rank_pattern keys before alpha_pattern keys, that
 * matches the module path as `re.match(rf"(.*\.)?{key}$", path)`; that one key is used for both
 * lookups, so a module matched by a rank_pattern key keeps the default alpha even when an
 * alpha_pattern key matches it too. Without a match, the path's last segment.
 */
export function lycorisPatternKey(path: string, config: Pick<LycorisConfigBase, 'rankPattern' | 'alphaPattern'>): string {
  for (const key of [...Object.keys(config.rankPattern), ...Object.keys(config.alphaPattern)]) {
    let regex = patternCache.get(key);
    if (!regex) {
      try {
        // re.match anchors at the start only; the key's own alternatives stay inside the group as in Python.
        regex = new RegExp(`^(?:(?:.*\\.)?${key}$)`);
      } catch (error) {
        throw new InvalidConfigError(`rank_pattern / alpha_pattern key ${JSON.stringify(key)} is not a valid regular expression`, { field: 'rank_pattern', cause: error });
      }
      patternCache.set(key, regex);
    }
    if (regex.test(path)) return key;
  }
  return path.slice(path.lastIndexOf('.') + 1);
}

/** The rank and alpha `config` gives the module at `path`, after the patterns. */
export function lycorisRankAndAlpha(config: LycorisConfigBase, path: string): { r: number; alpha: number } {
  const key = lycorisPatternKey(path, config);
  return { r: config.rankPattern[key] ?? config.r, alpha: config.alphaPattern[key] ?? config.alpha };
}
