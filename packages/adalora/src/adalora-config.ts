import { defineConfigSchema, fields, InvalidConfigError, type ConfigField, type TaskType } from '@peftjs/core';

/** The `peft_type` AdaLoRA adapters carry in adapter_config.json. */
export const ADALORA_PEFT_TYPE = 'ADALORA';

/**
 * `rank_pattern` as AdaLoRA writes it: `{ "<module path>.lora_E": [kept, ...] }`, one boolean per
 * initial triplet (PEFT 0.11.1 stores booleans here, not the integer ranks LoRA's field holds).
 */
export type AdaLoraRankPattern = Record<string, boolean[]>;

function rankPatternField(): ConfigField<AdaLoraRankPattern | null> {
  return {
    defaultValue: () => null,
    parse(value, name) {
      if (value === null || value === undefined) return null;
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new InvalidConfigError(`config field "${name}" is ${JSON.stringify(value)}; expected null or { "<module path>.lora_E": [true, false, ...] }`, { field: name });
      }
      const result: AdaLoraRankPattern = {};
      for (const [key, mask] of Object.entries(value as Record<string, unknown>)) {
        // PEFT keeps the allocator's tensors as lists of booleans; 0/1 are the same values.
        if (!Array.isArray(mask) || mask.some((entry) => typeof entry !== 'boolean' && entry !== 0 && entry !== 1)) {
          throw new InvalidConfigError(`config field "${name}.${key}" is ${JSON.stringify(mask)}; expected a list of booleans (true = the triplet is kept)`, { field: name });
        }
        result[key] = mask.map((entry) => entry === true || entry === 1);
      }
      return result;
    },
    serialize: (value) => (value === null ? null : Object.fromEntries(Object.entries(value).map(([key, mask]) => [key, [...mask]]))),
  };
}

/** AdaLoRA's init_lora_weights: only truthiness matters (PEFT's reset_lora_parameters). */
function initField(): ConfigField<boolean | 'gaussian'> {
  return {
    defaultValue: () => true,
    parse(value, name) {
      if (value === true || value === false || value === 'gaussian') return value;
      throw new InvalidConfigError(
        `config field "${name}" is ${JSON.stringify(value) ?? String(value)}; AdaLoRA takes true (E = 0, A and B ~ N(0, 0.02)) or false (all ~ N(0, 1))`,
        { field: name },
      );
    },
    serialize: (value) => value,
  };
}

function nonNegativeInteger(defaultValue: number): ConfigField<number> {
  return fields.integer(defaultValue, { min: 0 });
}

/** A smoothing factor strictly between 0 and 1 (PEFT's RankAllocator asserts it). */
function openUnit(defaultValue: number): ConfigField<number> {
  const base = fields.number(defaultValue);
  return {
    ...base,
    parse(value, name) {
      const parsed = base.parse(value, name);
      if (!(parsed > 0 && parsed < 1)) throw new InvalidConfigError(`config field "${name}" is ${parsed}; expected a number strictly between 0 and 1`, { field: name });
      return parsed;
    },
  };
}

export const adaloraConfigSchema = defineConfigSchema({
  peftType: ADALORA_PEFT_TYPE,
  fields: {
    // LoraConfig's fields, which AdaLoraConfig inherits (r and the patterns are written but unused).
    r: fields.integer(8),
    target_modules: fields.targets(null),
    lora_alpha: fields.number(8),
    lora_dropout: fields.number(0, { min: 0, max: 1, maxExclusive: true }),
    fan_in_fan_out: fields.boolean(false),
    bias: fields.oneOf<'none' | 'all' | 'lora_only'>('none', ['none', 'all', 'lora_only']),
    use_rslora: fields.boolean(false),
    modules_to_save: fields.nullableStringList(null),
    init_lora_weights: initField(),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
    rank_pattern: rankPatternField(),
    alpha_pattern: fields.numberRecord(),
    use_dora: fields.boolean(false),
    layer_replication: fields.json<unknown>(null),
    megatron_core: fields.nullableString('megatron.core'),
    // AdaLoraConfig's own fields.
    target_r: nonNegativeInteger(8),
    init_r: nonNegativeInteger(12),
    tinit: nonNegativeInteger(0),
    tfinal: nonNegativeInteger(0),
    deltaT: fields.integer(1, { min: 1 }),
    beta1: openUnit(0.85),
    beta2: openUnit(0.85),
    orth_reg_weight: fields.number(0.5),
    total_step: fields.nullableInteger(null, { min: 1 }),
  },
  refused: {
    megatron_config: {
      isDefault: (value) => value === null,
      reason: 'Megatron tensor-parallel layers do not exist in TensorFlow.js; set it to null',
      defaultValue: null,
    },
    loftq_config: {
      isDefault: (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0,
      reason: 'ADALORA does not support LOFTQ (PEFT refuses it too); set it to {}',
      defaultValue: {},
    },
  },
  check(config) {
    if (config.useDora) throw new InvalidConfigError('ADALORA does not support DoRA; set use_dora to false', { field: 'use_dora' });
    if (config.layerReplication !== null) {
      throw new InvalidConfigError('layer_replication is not supported by AdaLoRA in peftjs; set it to null', { field: 'layer_replication' });
    }
    if (typeof config.targetModules === 'string' && config.layersToTransform !== null) {
      throw new InvalidConfigError('`layers_to_transform` cannot be used when `target_modules` is a str.', { field: 'layers_to_transform' });
    }
    if (typeof config.targetModules === 'string' && config.layersPattern !== null) {
      throw new InvalidConfigError('`layers_pattern` cannot be used when `target_modules` is a str.', { field: 'layers_pattern' });
    }
  },
});

/** A parsed AdaLoRA config: PEFT 0.11.1's AdaLoraConfig with camelCase names and every default filled in. */
export type AdaLoraConfig = ReturnType<typeof adaloraConfigSchema.parse>;

/** What `createAdaloraConfig` takes: any AdaLoraConfig field in camelCase (snake_case keys work too). */
export interface AdaLoraConfigOptions {
  targetR?: number;
  initR?: number;
  tinit?: number;
  tfinal?: number;
  deltaT?: number;
  beta1?: number;
  beta2?: number;
  orthRegWeight?: number;
  totalStep?: number | null;
  rankPattern?: AdaLoraRankPattern | null;
  targetModules?: string | readonly string[] | null;
  loraAlpha?: number;
  loraDropout?: number;
  fanInFanOut?: boolean;
  bias?: 'none' | 'all' | 'lora_only';
  modulesToSave?: readonly string[] | null;
  initLoraWeights?: boolean | 'gaussian';
  layersToTransform?: number | readonly number[] | null;
  layersPattern?: string | readonly string[] | null;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated AdaLoRA config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createAdaloraConfig(options: AdaLoraConfigOptions = {}): AdaLoraConfig {
  return adaloraConfigSchema.parse({ ...options, peft_type: ADALORA_PEFT_TYPE });
}
